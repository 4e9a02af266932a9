"""The lock-file format of pinned Maven jars, and the checksum that proves a cached jar is the one locked.

One definition for the installed package (``_classpath``, the engine's jars) and the package build
(``javabuild``, the compiler's and JUnit's jars, which share the cache). The build runs before the
package's dependencies exist, so this module imports the standard library only, and ``javabuild``
loads it by its path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Artifact", "artifacts_of", "sha256_of"]


@dataclass(frozen=True)
class Artifact:
    """One locked Maven artifact."""

    group: str
    artifact: str
    version: str
    classifier: str
    sha256: str
    size: int

    @property
    def coordinate(self) -> str:
        """``group:artifact:version[:classifier]``."""
        tail = f":{self.classifier}" if self.classifier else ""
        return f"{self.group}:{self.artifact}:{self.version}{tail}"

    def path_in(self, cache_dir: Path) -> Path:
        """Where the jar lives in a Maven-layout cache."""
        name = f"{self.artifact}-{self.version}{'-' + self.classifier if self.classifier else ''}.jar"
        return cache_dir.joinpath(*self.group.split("."), self.artifact, self.version, name)

    def matches(self, path: Path) -> bool:
        """Whether the file at ``path`` has this artifact's size and SHA-256."""
        return path.stat().st_size == self.size and sha256_of(path) == self.sha256


def artifacts_of(entries: Iterable[Mapping[str, Any]]) -> tuple[Artifact, ...]:
    """The ``artifacts`` list of a lock file.

    Raises:
        KeyError, TypeError: an entry lacks a field or has the wrong shape.
    """
    return tuple(
        Artifact(e["group"], e["artifact"], e["version"], e.get("classifier", ""), e["sha256"], e["size"])
        for e in entries
    )


def sha256_of(path: Path) -> str:
    """The file's SHA-256, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
