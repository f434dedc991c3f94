"""Config secrets into the engine: a Pulumi secret Output, so every plan, state and log masks the value."""

import pulumi

from config.settings import SecretValue


def secret_output(value: SecretValue) -> pulumi.Output[str]:
    return pulumi.Output.secret(value.reveal())
