"""Pinned Maven artifacts: read from a lock file, fetched through jgo, checked against their SHA-256.

The engine's lock (``jars/engine-lock.json``) and the build toolchain's (``jars/toolchain-lock.json``)
share one format, and their jars share one cache with the installed package (see
``fireflytx._bridge._classpath``), so a build leaves behind exactly what the first engine start needs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# FireflyTxSettings reads jars.cache_dir from this variable; the build honours it too.
CACHE_ENV = "FIREFLYTX_JARS__CACHE_DIR"


def _load_lockfile_module() -> Any:
    """The package's ``_lockfile`` module, loaded by path: importing ``fireflytx`` needs its dependencies."""
    path = Path(__file__).resolve().parent.parent / "src" / "fireflytx" / "_bridge" / "_lockfile.py"
    name = "_fireflytx_lockfile"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"{path} is missing: build from a complete checkout or sdist")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while they are made
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from fireflytx._bridge import _lockfile
else:
    _lockfile = _load_lockfile_module()
Artifact = _lockfile.Artifact


class BuildError(RuntimeError):
    """Building or testing the Java adapter cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Lock:
    """A lock file: its artifacts and its other top-level fields (``engine``, ``compiler``...)."""

    path: Path
    fields: dict[str, Any]
    artifacts: tuple[Artifact, ...]

    def find(self, coordinate: str) -> Artifact:
        """The artifact whose ``group:artifact:version`` is ``coordinate``."""
        for artifact in self.artifacts:
            if artifact.coordinate == coordinate:
                return artifact
        raise BuildError(f"{self.path} names {coordinate} but does not list it under `artifacts`.")


def load_lock(path: Path) -> Lock:
    """Read a lock file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        artifacts = _lockfile.artifacts_of(data["artifacts"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BuildError(f"cannot read the lock file {path}: {exc}. Restore it from version control.") from (
            exc
        )
    return Lock(path, {k: v for k, v in data.items() if k != "artifacts"}, artifacts)


def cache_dir() -> Path:
    """The per-user jar cache the installed package uses, or FIREFLYTX_JARS__CACHE_DIR."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    import platformdirs

    return Path(platformdirs.user_cache_dir("fireflytx")) / "maven"


def problem(artifact: Artifact, cache: Path) -> str | None:
    """None if the cached jar is there and matches its checksum, else what is wrong."""
    path = artifact.path_in(cache)
    if not path.is_file():
        return f"{artifact.coordinate}: not cached"
    if not artifact.matches(path):
        return f"{artifact.coordinate}: {path} does not match the lock file's checksum"
    return None


def fetch(artifacts: Iterable[Artifact], cache: Path) -> list[Path]:
    """Make sure each jar is in ``cache`` and matches its checksum, downloading what is missing.

    Raises:
        BuildError: a download failed or a downloaded jar does not match its checksum.
    """
    artifacts = list(artifacts)
    context = None
    for artifact in artifacts:
        if problem(artifact, cache) is None:
            continue
        if context is None:
            from jgo.maven import MavenContext

            context = MavenContext(repo_cache=cache, local_repos=[], timeout=60)
        _download(context, artifact, cache)
    return [a.path_in(cache) for a in artifacts]


def _download(context: Any, artifact: Artifact, cache: Path) -> None:
    target = artifact.path_in(cache)
    target.unlink(missing_ok=True)
    try:
        component = context.project(artifact.group, artifact.artifact).at_version(artifact.version)
        fetched = Path(component.artifact(classifier=artifact.classifier, packaging="jar").resolve())
    except Exception as exc:
        raise BuildError(
            f"could not download {artifact.coordinate}: {type(exc).__name__}: {exc}. Check access to Maven "
            "Central (keep REQUESTS_CA_BUNDLE set behind a TLS-inspecting proxy), or put the jar into "
            f"{cache} yourself."
        ) from exc
    if fetched != target:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fetched, target)
    wrong = problem(artifact, cache)
    if wrong is not None:
        target.unlink(missing_ok=True)
        raise BuildError(f"downloaded {wrong}; the download was deleted. Retry, or check the lock file.")
