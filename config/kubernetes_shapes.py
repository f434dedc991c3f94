"""Kubernetes' own scheduling shapes as a service's stack file writes them (kubernetes.io/docs/reference/
kubernetes-api/workload-resources/pod-v1, Scheduling): checked field by field here, and the whole manifest
again by the render's kubernetes-validate --strict."""

from __future__ import annotations

from typing import Annotated

from config.fields import Integer, Spec, Str, Text, Weight


class Toleration(Spec):
    """A taint the pods tolerate, as Kubernetes writes it."""

    key: Str | None = None
    operator: Annotated[str, Text(choices=("Exists", "Equal"))] | None = None
    value: Str | None = None
    effect: Annotated[str, Text(choices=("NoSchedule", "PreferNoSchedule", "NoExecute"))] | None = None
    toleration_seconds: Annotated[int, Integer()] | None = None


class LabelSelectorRequirement(Spec):
    key: Str
    operator: Annotated[str, Text(choices=("In", "NotIn", "Exists", "DoesNotExist"))]
    values: list[Str] | None = None


class LabelSelector(Spec):
    match_labels: dict[Str, Str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class NodeSelectorRequirement(Spec):
    key: Str
    operator: Annotated[str, Text(choices=("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"))]
    values: list[Str] | None = None


class NodeSelectorTerm(Spec):
    match_expressions: list[NodeSelectorRequirement] | None = None
    match_fields: list[NodeSelectorRequirement] | None = None


class NodeSelector(Spec):
    node_selector_terms: list[NodeSelectorTerm]


class PreferredNode(Spec):
    weight: Weight
    preference: NodeSelectorTerm


class NodeAffinity(Spec):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredNode] | None = None


class PodAffinityTerm(Spec):
    label_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    namespaces: list[Str] | None = None
    topology_key: Str
    match_label_keys: list[Str] | None = None
    mismatch_label_keys: list[Str] | None = None


class PreferredPod(Spec):
    weight: Weight
    pod_affinity_term: PodAffinityTerm


class PodAffinity(Spec):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredPod] | None = None


class Affinity(Spec):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAffinity | None = None


