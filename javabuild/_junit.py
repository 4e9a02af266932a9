"""The adapter's JUnit tests, compiled with ECJ and run by the JUnit console launcher on the build runtime.

This replaces ``mvn verify`` for everyone who has no JDK: the launcher is a single pinned jar that bundles
JUnit Jupiter, and the tests compile against it, the engine's locked jars and freshly compiled main classes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ._artifacts import fetch
from ._compile import MAIN_SOURCES, compile_java, copy_resources, toolchain
from ._runtime import build_java, run

TEST_SOURCES = Path("java") / "src" / "test"
# Reactor's Schedulers.setFactory is JVM-global: these test classes each get a JVM of their own, as the
# surefire configuration in java/pom.xml does for Maven.
OWN_JVM = ("dev.fireflytx.bridge.ReactorParallelInstallTest",)
# The runtime warns about Reactor's and Spring's use of sun.misc.Unsafe on Java 24+.
JVM_OPTIONS = ["--sun-misc-unsafe-memory-access=allow"]


def run_tests(root: Path, cache: Path) -> None:
    """Compile java/src/main and java/src/test, then run every JUnit test.

    Raises:
        BuildError: a download, the compiler or a test failed (the launcher's report is printed above).
    """
    engine, tools = toolchain(root)
    compiler = tools.find(str(tools.fields["compiler"]))
    launcher = tools.find(str(tools.fields["junit_launcher"]))
    release = int(engine.fields["java_release"])
    runtime = build_java()
    ecj, console = fetch([compiler, launcher], cache)
    engine_jars = fetch(engine.artifacts, cache)
    with tempfile.TemporaryDirectory(prefix="fireflytx-junit-") as tmp:
        main, tests = Path(tmp) / "classes", Path(tmp) / "test-classes"
        compile_java(runtime, ecj, release, engine_jars, root / MAIN_SOURCES / "java", main)
        copy_resources(root / MAIN_SOURCES / "resources", main)
        test_classpath = [main, console, *engine_jars]
        compile_java(runtime, ecj, release, test_classpath, root / TEST_SOURCES / "java", tests)
        copy_resources(root / TEST_SOURCES / "resources", tests)
        classpath = os.pathsep.join(str(p) for p in (tests, main, *engine_jars))
        base = [str(runtime.java), *JVM_OPTIONS, "-jar", str(console), "execute", "--disable-banner"]
        base += ["--disable-ansi-colors", "--fail-if-no-tests", "--details=tree", "--class-path", classpath]
        shared = [f"--exclude-classname={name.replace('.', '[.]')}" for name in OWN_JVM]
        run([*base, f"--scan-class-path={tests}", *shared])
        for name in OWN_JVM:
            run([*base, f"--select-class={name}"])
