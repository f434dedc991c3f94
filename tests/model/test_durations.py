import pytest

from model import durations


@pytest.mark.parametrize("text, minutes", [("PT1M", 1), ("PT5M", 5), ("PT1H", 60), ("PT6H", 360),
                                           ("P1D", 1440), ("P2D", 2880), ("P1DT6H", 1800)])
def test_iso_round_trips(text, minutes):
    assert durations.iso_minutes(text) == minutes
    assert durations.iso(minutes) == text


@pytest.mark.parametrize("bad", ["5m", "PT", "P", "PT30S", "P1W", ""])
def test_iso_rejects_what_azure_alerts_do_not_take(bad):
    with pytest.raises(ValueError):
        durations.iso_minutes(bad)


@pytest.mark.parametrize("text, minutes", [("5m", 5), ("30m", 30), ("1h", 60), ("6h", 360),
                                           ("3d", 4320), ("30d", 43200)])
def test_prometheus_durations_use_the_largest_whole_unit(text, minutes):
    assert durations.prometheus(minutes) == text


def test_prometheus_uses_the_largest_exact_unit():
    assert durations.prometheus(90) == "90m"
    assert durations.prometheus(1440 * 7) == "7d"
