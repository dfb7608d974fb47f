"""Prints the sha256 of everything the lock files in requirements/ are resolved from.

The dependency tables of pyproject.toml (requires-python, dependencies, optional-dependencies,
build-system requires) and requirements/constraints.in. scripts/lock writes it into each lock
as "# inputs-sha256: ..."; scripts/bootstrap compares, so a dependency change without a fresh
lock is an error instead of a silently missing package. Other pyproject.toml edits (tool
settings) do not change it. Needs Python 3.11+ (tomllib), nothing else.
"""

import hashlib
import json
import pathlib
import tomllib

root = pathlib.Path(__file__).resolve().parent.parent
pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
project = pyproject.get("project", {})
inputs = {
    "requires-python": project.get("requires-python"),
    "dependencies": project.get("dependencies", []),
    "optional-dependencies": project.get("optional-dependencies", {}),
    "build-system-requires": pyproject.get("build-system", {}).get("requires", []),
    "constraints": (root / "requirements" / "constraints.in").read_text(encoding="utf-8"),
}
print(hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest())
