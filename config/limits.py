"""The limits the platforms set, and the names they accept, in one place: Azure's, Kubernetes', Datadog's."""

from __future__ import annotations

# Azure: Microsoft.Insights metricAlerts and scheduledQueryRules, Log Analytics, availability tests.
METRIC_ALERT_FREQUENCIES = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H")
METRIC_ALERT_WINDOWS = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D")
LOG_ALERT_FREQUENCIES = ("PT1M", "PT5M", "PT10M", "PT15M", "PT30M", "PT45M",
                         "PT1H", "PT2H", "PT3H", "PT4H", "PT5H", "PT6H", "P1D")
LOG_ALERT_WINDOWS = ("PT1M", "PT5M", "PT10M", "PT15M", "PT30M", "PT45M",
                     "PT1H", "PT2H", "PT3H", "PT4H", "PT5H", "PT6H", "P1D", "P2D")
RETENTION_DAYS = (30, 730)
AZURE_SEVERITIES = (0, 4)
ACTION_GROUP_SHORT_NAME_MAX = 12
AZURE_MAX_TAGS = 50
RESERVED_TAGS = ("environment", "service", "managed-by")  # the program's own, on every Azure resource
WEBTEST_FREQUENCIES = (300, 600, 900)
WEBTEST_LOCATIONS = (
    "us-il-ch1-azr", "us-ca-sjc-azr", "us-tx-sn1-azr", "us-va-ash-azr", "us-fl-mia-edge",
    "apac-sg-sin-azr", "emea-se-sto-edge", "emea-ru-msa-edge", "emea-nl-ams-azr",
    "apac-jp-kaw-edge", "emea-gb-db3-azr", "apac-hk-hkn-azr", "emea-fr-pra-edge",
    "emea-ch-zrh-edge", "latam-br-gru-edge", "emea-au-syd-edge",
)
DEFAULT_WEBTEST_LOCATIONS = ("emea-nl-ams-azr", "emea-gb-db3-azr", "emea-fr-pra-edge", "us-va-ash-azr",
                             "us-ca-sjc-azr")  # five, as Azure recommends, across Europe and the US

# Kubernetes.
KUBERNETES_MIN_MINOR = 30  # preStop sleep hooks and PDB unhealthyPodEvictionPolicy are used
KUBERNETES_MAX_MINOR = 37  # the newest release manifests are validated against (kubernetes-validate 1.37)
UNPRIVILEGED_PORTS = (1024, 65535)  # restricted pods drop every capability, so no low ports
RESERVED_MOUNTS = ("/", "/tmp", "/dev/shm")  # the root, the scratch volume, shared memory
GPU_RESOURCE = "nvidia.com/gpu"  # NVIDIA's device plugin
MIN_COLLECTOR_MEMORY_MIB = 128  # the memory limiter is sized from the container's limit

# The official Helm chart's appVersion, by the digest public pins of it agree on (production needs one).
COLLECTOR_IMAGE = ("otel/opentelemetry-collector-contrib:0.153.0"
                   "@sha256:93aad750175cbf1a973ae1c5886c3371f4d800f61be25cdd26870b8441ffe9fa")
COLLECTOR_EXPORTERS = ("azuremonitor", "datadog", "prometheus")
TRACE_BACKENDS = ("azuremonitor", "datadog")  # the exporters that take traces: what tail sampling can sample
DATADOG_SITES = ("datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
                 "ap1.datadoghq.com", "ap2.datadoghq.com", "ddog-gov.com")
DATADOG_KEY_DIGITS = {"apiKey": ("API key", 32), "appKey": ("application key", 40)}
AUTOSCALING_METRICS, AUTOSCALING_ENGINES = ("cpu", "queue"), ("hpa", "keda")
# The environment the program gives every service; a service's env may not override it. The App
# Insights connection string reaches a service as a file: its variable is reserved so no stack file
# puts the secret in a plain environment variable instead.
PROGRAM_ENV = ("OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
               "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SEMCONV_STABILITY_OPT_IN", "MODEL_NAME", "MODEL_VERSION",
               "APPLICATIONINSIGHTS_CONNECTION_STRING_FILE", "APPLICATIONINSIGHTS_CONNECTION_STRING",
               "DD_ENV", "DD_SERVICE", "DD_VERSION", "DD_AGENT_HOST")

# Names, as patterns and in words.
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL_HINT = "must be lowercase letters, digits and hyphens, starting and ending with a letter or digit"
DNS_1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"  # Service names must start with a letter
DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
RECEIVER_NAME = r"[A-Za-z0-9][A-Za-z0-9 _-]{0,127}"
EMAIL = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"
LABEL_KEY = r"([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
LABEL_VALUE = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
LABEL_VALUE_HINT = "must be at most 63 letters, digits, - _ . starting and ending with a letter or digit"
PROMETHEUS_METRIC = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
PROMETHEUS_LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
IMAGE = (r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
         r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?")
IMAGE_HINT = "must be an image reference like registry.example.com/team/app:1.2.3"
EXTENDED_RESOURCE_DOMAIN = r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?\.[a-z]{2,}"
