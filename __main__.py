"""ai-observability: stack settings -> explicit providers -> components -> stack outputs."""

import pulumi
import pulumi_azure_native as azure_native

from components import settings as stack_settings
from components.azure_monitoring import AzureMonitoring

# Settings come first: bad config stops the run here, before anything is registered.
settings = stack_settings.load(
    pulumi.runtime.get_config_env(),
    frozenset(pulumi.runtime.get_config_secret_keys_env()),
    pulumi.get_stack(),
    pulumi.get_project(),
)

azure_provider = azure_native.Provider(
    "azure",
    subscription_id=settings.azure.subscription_id,
    location=settings.azure.location,
)
azure = AzureMonitoring("azure-monitoring", settings,
                        opts=pulumi.ResourceOptions(providers=[azure_provider]))

pulumi.export("workspaceId", azure.workspace_id)
pulumi.export("appInsightsConnectionString", azure.connection_string)
pulumi.export("appInsightsInstrumentationKey", azure.instrumentation_key)
pulumi.export("actionGroupId", azure.action_group_id)
