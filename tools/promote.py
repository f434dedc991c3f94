"""Point every stack at a newly pushed image: `make promote IMAGE=<registry>/<repository>:<tag>@sha256:<digest>`.

Each service, in every Pulumi.<stack>.yaml, whose image is the same repository (the path after the
registry host, so a move to another registry is a promotion too) gets IMAGE; the rest of each file,
comments included, stays as it is. The pipeline runs it after pushing the reference service's image
and opens a pull request with the result: staging deploys it first, then prod behind its approval.
Exit 1 when no service runs that repository.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ruamel.yaml import YAML

from tools import stack_config

PINNED = re.compile(r"[^/]+/[^:@]+(:[^@]+)?@sha256:[0-9a-f]{64}")


def repository(image: str) -> str:
    """The image's repository path, without registry host, tag or digest."""
    name = image.split("@", 1)[0]
    host, _, path = name.partition("/")
    path = path if ("." in host or ":" in host or host == "localhost") else name
    return path.rsplit(":", 1)[0] if ":" in path.rsplit("/", 1)[-1] else path


def promote(path: Path, image: str) -> list[str]:
    """Sets `image` on each service of the stack file running its repository; the services' names."""
    yaml = YAML()  # round trip: comments, order and quoting kept
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    document = yaml.load(path.read_text())
    services = ((document or {}).get("config") or {}).get(f"{stack_config.project_file()['name']}:services") or []
    changed = [s["name"] for s in services if repository(str(s.get("image", ""))) == repository(image)
               and s["image"] != image]
    for service in services:
        if service["name"] in changed:
            service["image"] = image
    if changed:
        with path.open("w") as file:
            yaml.dump(document, file)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make promote", description=__doc__.splitlines()[0])
    parser.add_argument("image", help="the pushed image by digest: <registry>/<repository>:<tag>@sha256:<digest>")
    parser.add_argument("--config-dir", type=Path, default=stack_config.ROOT)
    args = parser.parse_args(argv)
    if not PINNED.fullmatch(args.image):
        print(f"{args.image}: give the image by digest, <registry>/<repository>:<tag>@sha256:<64 hex digits>, as "
              "production stacks require", file=sys.stderr)
        return 2
    found = False
    for stack in stack_config.stacks(args.config_dir):
        services = promote(args.config_dir / f"Pulumi.{stack}.yaml", args.image)
        found = found or bool(services)
        for service in services:
            print(f"Pulumi.{stack}.yaml: {service} -> {args.image}")
    if not found:
        print(f"no stack runs {repository(args.image)} (or all run this image already)", file=sys.stderr)
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
