"""The engine's jars: pinned by a lock file in the package, cached per user, verified before use.

The lock lists every artifact of the engine's runtime classpath with its SHA-256, so resolution is
a fixed list of downloads (done by jgo's Maven client) and a check, never a fresh dependency
resolution. After the first fetch everything works offline.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import JarsError
from ._lockfile import Artifact as Artifact  # re-exported: callers name _classpath.Artifact
from ._lockfile import artifacts_of, sha256_of

LIB = "lib"
LOCK_FILE = "engine-lock.json"
ADAPTER_JAR = "fireflytx-bridge.jar"
ADAPTER_CLASS = "dev/fireflytx/bridge/ParkedThreadExecutor.class"
REINSTALL = (
    "Reinstall fireflytx (`pip install --force-reinstall fireflytx`, or `pip install .` from a checkout, "
    "which needs only Python)."
)


@dataclass(frozen=True)
class Lock:
    """The lock file's content."""

    engine: str
    java_release: int
    artifacts: tuple[Artifact, ...]

    @property
    def total_size(self) -> int:
        """Bytes of all jars."""
        return sum(a.size for a in self.artifacts)


def _lib_file(name: str) -> Path:
    path = Path(str(resources.files("fireflytx._bridge").joinpath(LIB, name)))
    if not path.exists():
        raise JarsError(f"{path} is missing: the package was installed without its build step. {REINSTALL}")
    return path


@cache
def load_lock() -> Lock:
    """The lock file shipped in the package."""
    data: dict[str, Any] = json.loads(_lib_file(LOCK_FILE).read_text(encoding="utf-8"))
    artifacts = artifacts_of(data["artifacts"])
    return Lock(engine=data["engine"], java_release=int(data["java_release"]), artifacts=artifacts)


def adapter_jar() -> Path:
    """Fireflytx's own small Java adapter, built from ``java/`` when the package was built.

    It has no lock entry (it is built with the package), so it is checked as a jar instead: a
    truncated one would otherwise surface after the JVM started as ``TypeError: Class ... not found``.

    Raises:
        JarsError: the jar is missing, not a readable jar, or lacks the adapter's classes.
    """
    path = _lib_file(ADAPTER_JAR)
    try:
        with zipfile.ZipFile(path) as jar:
            broken = jar.testzip()
            has_adapter = ADAPTER_CLASS in jar.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise JarsError(f"{path} is damaged ({exc}): truncated or not a jar. {REINSTALL}") from exc
    if broken is not None or not has_adapter:
        what = f"its entry {broken} is corrupt" if broken is not None else f"it lacks {ADAPTER_CLASS}"
        raise JarsError(f"{path} is damaged: {what}. {REINSTALL}")
    return path


def default_cache_dir() -> Path:
    """The per-user jar cache."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("fireflytx")) / "maven"


NOT_CACHED = "not cached"
MISMATCH = "checksum mismatch"


def check(artifact: Artifact, cache_dir: Path) -> str | None:
    """None if the cached jar is there and matches the lock, else what is wrong.

    A problem starts with ``NOT_CACHED`` or ``MISMATCH``, so callers can tell a jar an online start
    would simply fetch from one that was altered or cut short.
    """
    path = artifact.path_in(cache_dir)
    if not path.is_file():
        return f"{NOT_CACHED}: {artifact.coordinate} ({path})"
    size = path.stat().st_size
    found = sha256_of(path)
    if size != artifact.size or found != artifact.sha256:
        return (
            f"{MISMATCH}: {path}, expected sha256 {artifact.sha256} ({artifact.size} bytes), "
            f"found {found} ({size} bytes)"
        )
    return None


def verify(cache_dir: Path, lock: Lock | None = None) -> list[str]:
    """Every problem with the cached jars (empty when all are present and match)."""
    lock = lock or load_lock()
    return [p for a in lock.artifacts if (p := check(a, cache_dir)) is not None]


def fetch(
    cache_dir: Path,
    *,
    offline: bool = False,
    progress: Callable[[Artifact, bool], None] | None = None,
    timeout_s: int = 20,
    mirror: str | None = None,
) -> list[Path]:
    """Make sure every locked jar is in ``cache_dir``, downloading what is missing; return the paths.

    ``progress(artifact, downloaded)`` is called after each artifact. Downloads come from
    ``mirror`` if given, else from the resolver's default repository; each request waits at most
    ``timeout_s``.

    Raises:
        JarsError: offline with jars missing, a download failed, or a checksum did not match.
    """
    lock = load_lock()
    paths = [a.path_in(cache_dir) for a in lock.artifacts]
    # Every start checks every checksum: about 11 MB of SHA-256, some 10 ms.
    problems = {a: p for a in lock.artifacts if (p := check(a, cache_dir)) is not None}
    missing = list(problems)
    if not missing:
        return paths
    if offline:
        altered = [p for p in problems.values() if p.startswith(MISMATCH)]
        absent = len(problems) - len(altered)
        parts = list(altered)
        if absent:
            parts.append(f"{absent} of the engine's {len(lock.artifacts)} jars are not cached")
        raise JarsError(
            f"{'; '.join(parts)} (cache {cache_dir}), and offline mode is on. Run `fireflytx jars fetch` "
            "once with network access (it replaces altered jars), or turn offline mode off "
            "(FIREFLYTX_JARS__OFFLINE=false)."
        )
    context = None
    for artifact in lock.artifacts:
        if artifact not in missing:
            if progress:
                progress(artifact, False)
            continue
        if context is None:
            from jgo.maven import MavenContext

            remotes = {"mirror": mirror} if mirror else None
            context = MavenContext(
                repo_cache=cache_dir, local_repos=[], remote_repos=remotes, timeout=timeout_s
            )
        _download(context, artifact, cache_dir, mirror)
        if progress:
            progress(artifact, True)
    return paths


def _download(context: Any, artifact: Artifact, cache_dir: Path, mirror: str | None) -> None:
    target = artifact.path_in(cache_dir)
    target.unlink(missing_ok=True)
    source = f"the Maven mirror {mirror}" if mirror else "the default Maven repository"
    try:
        component = context.project(artifact.group, artifact.artifact).at_version(artifact.version)
        fetched = Path(component.artifact(classifier=artifact.classifier, packaging="jar").resolve())
    except Exception as exc:
        raise JarsError(
            f"could not download {artifact.coordinate} from {source} within {context.timeout} s per request: "
            f"{type(exc).__name__}: {exc}. Check network access to it, set another one with "
            "FIREFLYTX_JARS__MAVEN_MIRROR, or copy the jars into the cache and use offline mode."
        ) from exc
    if fetched != target:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fetched, target)
    problem = check(artifact, cache_dir)
    if problem is not None:
        target.unlink(missing_ok=True)
        raise JarsError(
            f"a download failed its check, {problem}; it was deleted. Retry `fireflytx jars fetch`."
        )


def clear(cache_dir: Path) -> int:
    """Delete the cache; return the bytes freed."""
    if not cache_dir.exists():
        return 0
    freed = sum(p.stat().st_size for p in cache_dir.rglob("*") if p.is_file())
    shutil.rmtree(cache_dir)
    return freed
