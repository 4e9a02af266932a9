"""Hatchling build hook: compile the Java bridge and place it, with the engine lock, inside the package.

The bridge jar (java/, Java 25 class files) is built with Maven and copied to src/fireflytx/_bridge/lib/
together with jars/engine-lock.json; the wheel target lists that directory under `artifacts`. Maven is
skipped when the copied jar is newer than every file under java/src and java/pom.xml.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a script (`--print-java-home`) outside a build environment
    BuildHookInterface = object  # type: ignore[misc,assignment]

MIN_JAVA = 25
JAR_NAME = "fireflytx-bridge.jar"
LOCK_NAME = "engine-lock.json"
LIB_DIR = Path("src") / "fireflytx" / "_bridge" / "lib"


def _java_major(home: Path) -> int | None:
    """Major version from a JDK's `release` file (JAVA_VERSION="25.0.1"), or None."""
    try:
        text = (home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="?([0-9][0-9._]*)', text, re.MULTILINE)
    if not match:
        return None
    parts = match.group(1).split(".")
    return int(parts[1]) if parts[0] == "1" and len(parts) > 1 else int(parts[0])


def find_build_jdk() -> Path:
    """A JDK >= 25 for Maven: FIREFLYTX_BUILD_JAVA_HOME, then JAVA_HOME, then /usr/lib/jvm/*."""
    explicit = os.environ.get("FIREFLYTX_BUILD_JAVA_HOME")
    if explicit:
        major = _java_major(Path(explicit))
        if major is None or major < MIN_JAVA:
            raise RuntimeError(
                f"FIREFLYTX_BUILD_JAVA_HOME={explicit} is not a JDK {MIN_JAVA}+ "
                f"(its release file says {major if major is not None else 'nothing'})."
            )
        return Path(explicit)

    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    jvm_dir = Path("/usr/lib/jvm")
    if jvm_dir.is_dir():
        candidates.extend(sorted(p for p in jvm_dir.iterdir() if p.is_dir()))

    seen = []
    for home in candidates:
        major = _java_major(home)
        if major is not None and major >= MIN_JAVA:
            return home
        seen.append(f"{home} (Java {major})" if major is not None else f"{home} (no release file)")
    raise RuntimeError(
        f"Building fireflytx needs a JDK {MIN_JAVA} or newer to compile its Java bridge, and none was found. "
        f"Looked at: {', '.join(seen) or 'JAVA_HOME unset, no /usr/lib/jvm'}. "
        f"Install a JDK {MIN_JAVA} (for example Temurin {MIN_JAVA}) and set FIREFLYTX_BUILD_JAVA_HOME "
        "to its directory."
    )


def _newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            for child in path.rglob("*"):
                if child.is_file():
                    newest = max(newest, child.stat().st_mtime)
    return newest


class CustomBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        # Wheel builds, standard and editable; an sdist ships the Java sources instead.
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        lib = root / LIB_DIR
        lib.mkdir(parents=True, exist_ok=True)
        java = root / "java"
        jar = lib / JAR_NAME

        sources = [java / "src", java / "pom.xml"]
        if jar.is_file() and jar.stat().st_mtime > _newest_mtime(sources):
            self.app.display_info(f"fireflytx: {LIB_DIR / JAR_NAME} is up to date, skipping Maven")
        else:
            self._build_jar(java, jar)

        lock = root / "jars" / LOCK_NAME
        if not lock.is_file():
            raise RuntimeError(f"{lock} is missing; regenerate it with `python jars/lock.py`.")
        shutil.copyfile(lock, lib / LOCK_NAME)

    def _build_jar(self, java: Path, jar: Path) -> None:
        if not (java / "pom.xml").is_file():
            raise RuntimeError(f"{java / 'pom.xml'} is missing and no prebuilt {jar} exists.")
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError(
                "Building fireflytx needs Maven to compile its Java bridge, and `mvn` is not on PATH: "
                "install Maven (apt-get install maven)."
            )
        jdk = find_build_jdk()
        env = dict(os.environ, JAVA_HOME=str(jdk))
        # Maven's bundled Guava warns about sun.misc.Unsafe on JDK 24+.
        env["MAVEN_OPTS"] = (env.get("MAVEN_OPTS", "") + " --sun-misc-unsafe-memory-access=allow").strip()
        cmd = [mvn, "-q", "-B", "-Dstyle.color=never", "-DskipTests", "package"]
        self.app.display_info(f"fireflytx: building the Java bridge with {jdk} ({' '.join(cmd[1:])})")
        result = subprocess.run(cmd, cwd=java, env=env, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"Maven failed with exit code {result.returncode}: {' '.join(cmd)} (in {java})"
            )
        built = java / "target" / JAR_NAME
        if not built.is_file():
            raise RuntimeError(f"Maven succeeded but {built} was not produced.")
        shutil.copyfile(built, jar)

    def clean(self, versions: list[str]) -> None:
        lib = Path(self.root) / LIB_DIR
        for name in (JAR_NAME, LOCK_NAME):
            (lib / name).unlink(missing_ok=True)


if __name__ == "__main__":
    # `python hatch_build.py --print-java-home`: the JDK the scripts give Maven for the JUnit tests.
    import sys

    if sys.argv[1:] != ["--print-java-home"]:
        sys.exit("usage: python hatch_build.py --print-java-home")
    print(find_build_jdk())
