"""How alerts reach people through Alertmanager: the route tree of an AlertmanagerConfig.

Every alert carries `routing: page` or `routing: ticket` (the route its severity takes in
the stack). One receiver per route; a page inhibits the ticket of the same service, so
an outage that pages does not also open tickets. The Prometheus operator adds a
`namespace="<the config's namespace>"` matcher to the top route and to both sides of each
inhibition (pkg/alertmanager/amcfg.go), which is why every alert here carries that label.
"""

from __future__ import annotations

from collections.abc import Mapping

RECEIVER_KINDS = ("slack", "pagerduty", "webhook")
# Each kind's config list, and the field holding the secret it reads (a Slack or webhook URL,
# a PagerDuty Events API v2 routing key): monitoring.coreos.com/v1alpha1 AlertmanagerConfig.
_RECEIVER_FIELDS = {"slack": ("slackConfigs", "apiURL"), "pagerduty": ("pagerdutyConfigs", "routingKey"),
                    "webhook": ("webhookConfigs", "urlSecret")}
GROUP_BY = ["alertname", "service"]
# Pages wake someone: sent fast and repeated hourly; tickets wait a little and repeat twice a day.
TIMING = {"page": {"groupWait": "10s", "repeatInterval": "1h"},
          "ticket": {"groupWait": "1m", "repeatInterval": "12h"}}


def matcher(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value, "matchType": "="}


def alertmanager_config(receivers: Mapping[str, str], secret_name: str) -> dict:
    """The spec routing each route to its receiver; `receivers` maps route -> kind, and the
    Secret `secret_name` holds each route's URL or key under the route's name."""
    routes = [route for route in TIMING if route in receivers]
    spec: dict = {
        "route": {
            # Alerts of the namespace without a routing label (the cluster's own rules) open tickets.
            "receiver": "ticket" if "ticket" in receivers else routes[0],
            "groupBy": GROUP_BY,
            "groupWait": "30s",
            "groupInterval": "5m",
            "repeatInterval": "4h",
            "routes": [{"receiver": route, "matchers": [matcher("routing", route)], **TIMING[route]}
                       for route in routes],
        },
        "receivers": [],
    }
    for route in routes:
        configs, field = _RECEIVER_FIELDS[receivers[route]]
        spec["receivers"].append({"name": route, configs: [
            {field: {"name": secret_name, "key": route}, "sendResolved": True}]})
    if {"page", "ticket"} <= set(routes):
        spec["inhibitRules"] = [{"sourceMatch": [matcher("routing", "page")],
                                 "targetMatch": [matcher("routing", "ticket")], "equal": ["service"]}]
    return spec
