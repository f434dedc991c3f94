"""How Application Insights names an inference service and its requests.

The emitter side (the OpenTelemetry resource and environment a service's Deployment
sets) and the query side (the KQL of the Azure alerts) are both built here, so the
alerts select exactly what App Insights stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# An alert rule scoped to a workspace-based App Insights component queries its classic
# schema: the `requests` table (learn.microsoft.com, azure-monitor/app/convert-classic-resource).
REQUESTS = "requests"
TIME, ROLE, OPERATION, RESULT_CODE = "timestamp", "cloud_RoleName", "name", "resultCode"
DURATION_MS = "duration"  # milliseconds
# A failed inference is a server error, as the contract's error status is. App Insights'
# own `success` is false for 4xx too (exporter/azuremonitorexporter getFormattedHTTPStatusValues:
# 100-399 succeed), which would count a rejected request as an outage.
SERVER_ERROR = f"toint({RESULT_CODE}) >= 500"
# Telemetry reaches Log Analytics typically 20 s to 3 min after it happens (learn.microsoft.com,
# azure-monitor/logs/data-ingestion-time): a window ending now would miss its last minutes.
INGESTION_DELAY_MINUTES = 3

# The azuremonitor exporter (collector-contrib >= 0.139, semantic conventions 1.34) takes a
# span's HTTP status only from `http.response.status_code`; spans with the older
# `http.status_code` get the span status (0, 1, 2) as their result code. Instrumentations
# that still default to the old conventions emit the stable ones with this opt-in
# (opentelemetry.io/docs/specs/semconv/non-normative/http-migration).
SEMCONV_OPT_IN = {"OTEL_SEMCONV_STABILITY_OPT_IN": "http"}


def resource(service: str, application: str) -> dict[str, str]:
    """The OpenTelemetry resource attributes that name the service, as its Deployment sets them."""
    return {"service.name": service, "service.namespace": application}


def role_name(resource_attributes: Mapping[str, str]) -> str:
    """App Insights' cloud_RoleName: `<service.namespace>.<service.name>`, or the name alone.

    exporter/azuremonitorexporter/contracts_utils.go (applyCloudTagsToEnvelope), and the
    same rule in the Azure Monitor OpenTelemetry distro (_utils.py, _get_cloud_role).
    """
    name = resource_attributes["service.name"]
    namespace = resource_attributes.get("service.namespace")
    return f"{namespace}.{name}" if namespace else name


def operation(method: str, route: str) -> str:
    """A request's `name`: `{method} {route}` (trace_to_envelope.go, fillRequestDataHTTP)."""
    return f"{method} {route}"


def served_requests(role: str, since: str, until: str, probe_paths: Iterable[str]) -> str:
    """The service's requests between two KQL timespans ago, without the kubelet's probes."""
    probes = ", ".join(f'"{operation("GET", path)}"' for path in probe_paths)
    return (f"{REQUESTS}\n"
            f'| where {TIME} between (ago({since}) .. ago({until})) and {ROLE} == "{role}"\n'
            f"| where {OPERATION} !in ({probes})")
