"""The policy pack for `pulumi preview --policy-pack policy`: the rules in rules.py, in the engine."""

from pulumi_policy import PolicyPack
from rules import POLICIES

PolicyPack(name="ai-observability", policies=POLICIES)
