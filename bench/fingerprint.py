"""Which application code a server ran: a hash of the files under src/ at its start.

Others edit src/ while a benchmark runs, so every server start notes the fingerprint,
and the report warns, naming the changed files, when one run measured several versions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
SOURCE_FILES: dict[str, dict[str, str]] = {}  # fingerprint -> {path: sha256 of the file}


def source_fingerprint() -> str:
    """The first 12 hex digits of the sha256 of src/'s file hashes; remembers the files."""
    files = {}
    for path in sorted((REPO_DIR / "src").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            with contextlib.suppress(OSError):
                files[path.relative_to(REPO_DIR).as_posix()] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    fingerprint = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:12]
    SOURCE_FILES.setdefault(fingerprint, files)
    return fingerprint


def changed_files(before: str, after: str) -> list[str]:
    old, new = SOURCE_FILES.get(before, {}), SOURCE_FILES.get(after, {})
    return sorted(path for path in old.keys() | new.keys() if old.get(path) != new.get(path))
