"""Custom resources against their CustomResourceDefinitions, as the API server would judge them.

The CRDs are vendored under tests/fixtures/crds/ (SOURCE.md names each one's repository, release and
commit). A custom resource is checked as a structural schema is applied (Kubernetes' apiextensions:
validation after pruning): every field must exist in the schema, since the API server silently drops an
unknown one (where no `x-kubernetes-preserve-unknown-fields` keeps it), and the values must validate
against the version's openAPIV3Schema.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CRDS = Path(__file__).parent / "fixtures" / "crds"


class _Loader(yaml.CSafeLoader):
    """YAML as Kubernetes reads a CRD: a bare `=` (YAML 1.1's !!value) is the string "="."""


def _string(loader: yaml.CSafeLoader, node: yaml.Node) -> str:
    return str(node.value)


_Loader.add_constructor("tag:yaml.org,2002:value", _string)


@functools.cache
def definitions() -> dict[tuple[str, str], dict]:
    """Each vendored CRD's version schemas, by (apiVersion, kind)."""
    found = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 (a safe loader, libyaml's)
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served", True):
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                found[key] = version["schema"]["openAPIV3Schema"]
    return found


def pruned(value: Any, schema: dict, path: str) -> Iterator[str]:
    """The paths of fields the API server would prune: those the schema does not declare."""
    if schema.get("x-kubernetes-preserve-unknown-fields") or not isinstance(value, dict | list):
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from pruned(item, schema.get("items", {}), f"{path}[{index}]")
        return
    properties, additional = schema.get("properties"), schema.get("additionalProperties")
    for key, inner in value.items():
        if properties is not None and key in properties:
            yield from pruned(inner, properties[key], f"{path}.{key}")
        elif isinstance(additional, dict):
            yield from pruned(inner, additional, f"{path}.{key}")
        elif properties is not None or additional is False:
            yield f"{path}.{key}"


def problems(manifest: dict) -> list[str]:
    """What the API server would refuse or silently drop of `manifest`; raises KeyError without its CRD."""
    schema = definitions()[(manifest["apiVersion"], manifest["kind"])]
    # metadata is ObjectMeta, which the API server validates itself; the CRD declares only its type.
    body = {key: value for key, value in manifest.items() if key != "metadata"}
    found = [f"{where} is not in the CRD: the API server would drop it"
             for where in pruned(body, schema, manifest["kind"])]
    validator = jsonschema.Draft4Validator(schema)  # OpenAPI v3.0's schema objects are draft 4's, plus x-*
    found += [f"{manifest['kind']}.{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
              for error in validator.iter_errors(manifest)]
    return found
