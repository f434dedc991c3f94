import gc
import sys
from pathlib import Path

# The Pulumi SDKs (Datadog's above all) build hundreds of thousands of long-lived objects; the default
# thresholds make the collector rescan them all again and again. Collect less often.
gc.set_threshold(50_000, 20, 20)

# Tests import the project the way __main__.py does: from its root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pytest_configure(config):
    """In a pytest-xdist worker, share rendered plans through the run's temporary directory, its basetemp's parent
    (pytest keeps the last three runs' and removes older ones)."""
    if hasattr(config, "workerinput") and config.option.basetemp:
        from tests import helpers  # here, not above: the controller, which runs no test, does not import the SDKs

        helpers.SHARED_PLANS = Path(config.option.basetemp).parent


def pytest_terminal_summary(terminalreporter):
    """Name the stack files the stack suite checked, so a new Pulumi.<stack>.yaml is seen to be tested (from the
    reports' properties, which pytest-xdist's workers send back too)."""
    checked = sorted(value for report in terminalreporter.stats.get("passed", [])
                     for name, value in report.user_properties if name == "stack file checked")
    if checked:
        terminalreporter.write_line(f"stack suite: rendered and checked {', '.join(checked)}")


def pytest_collection_modifyitems(items):
    """Files with slow tests first, each file's tests in their order: pytest-xdist hands out whole files (make
    test's --dist loadfile) in this order, and a long file handed out last would leave one worker on its own."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)
