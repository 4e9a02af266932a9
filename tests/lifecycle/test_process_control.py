"""Signals and exit belong to Python: starting an engine must not change how the process reacts to them.

Each test runs a fresh interpreter, waits until it reports the state under test on stdout, then
signals it. Waits are bounded only to keep a broken build from hanging the suite: a process that
sleeps for an hour must end on the signal, so reaching the bound is the failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

GUARD_S = 90  # far beyond any normal exit; only a hang reaches it

ENGINE_IDLE = """
    import atexit, sys, time
    from fireflytx import SagaEngine
    atexit.register(lambda: print("ATEXIT", flush=True))
    SagaEngine().start()
    print("READY", flush=True)
"""

HANGING_SAGA = """
    import atexit, sys, time
    from fireflytx import SagaEngine, saga, saga_step
    atexit.register(lambda: print("ATEXIT", flush=True))

    @saga("hangs")
    class Hangs:
        @saga_step("forever")
        def forever(self) -> None:
            print("READY", flush=True)
            time.sleep(3600)

    engine = SagaEngine().start()
"""


def _default_signals() -> None:
    # A command started in the background of a non-interactive shell (`cmd &`, nohup, some CI
    # runners) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
    # Each child starts as from a terminal, so these tests see what a user's process does.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*parts: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, "-c", "".join(textwrap.dedent(part) for part in parts)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
        preexec_fn=_default_signals,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Its output once it has exited; a process still running after the guard is killed and fails."""
    try:
        return proc.communicate(timeout=GUARD_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _signal_when_ready(proc: subprocess.Popen[str], signum: int) -> tuple[str, str]:
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if first.strip() != "READY":
        raise AssertionError(first + _finish(proc)[1])
    proc.send_signal(signum)
    return _finish(proc)


def _no_jvm_crash(cwd: Path, err: str) -> None:
    assert list(cwd.glob("hs_err_pid*.log")) == []
    assert "A fatal error has been detected" not in err
    assert "Exception in thread" not in err


def test_sigterm_ends_an_idle_engine_process_like_plain_python(tmp_path: Path) -> None:
    proc = _start(ENGINE_IDLE, "time.sleep(3600)\n", cwd=tmp_path)
    out, err = _signal_when_ready(proc, signal.SIGTERM)
    assert proc.returncode == -signal.SIGTERM, err
    _no_jvm_crash(tmp_path, err)


def test_sigterm_mid_saga_runs_the_applications_handler_and_atexit(tmp_path: Path) -> None:
    code = """
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    engine.execute_sync(Hangs)
    """
    proc = _start(HANGING_SAGA, code, cwd=tmp_path)
    out, err = _signal_when_ready(proc, signal.SIGTERM)
    assert proc.returncode == 3, err
    assert "ATEXIT" in out
    _no_jvm_crash(tmp_path, err)


def test_sigint_interrupts_a_sleeping_main_thread_at_once(tmp_path: Path) -> None:
    code = """
    try:
        print("READY", flush=True)
        time.sleep(3600)
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
    """
    # READY is printed inside the try: a signal that arrives right after it is still caught there.
    proc = _start(ENGINE_IDLE.replace('print("READY", flush=True)', ""), code, cwd=tmp_path)
    out, err = _signal_when_ready(proc, signal.SIGINT)
    assert proc.returncode == 0, err
    assert out.split() == ["INTERRUPTED", "ATEXIT"]
    _no_jvm_crash(tmp_path, err)


def test_sigint_interrupts_execute_sync_waiting_on_a_def_step_that_never_returns(tmp_path: Path) -> None:
    proc = _start(HANGING_SAGA, "engine.execute_sync(Hangs)\n", cwd=tmp_path)
    out, err = _signal_when_ready(proc, signal.SIGINT)
    assert proc.returncode == -signal.SIGINT, err
    assert err.rstrip().endswith("KeyboardInterrupt")
    assert "ATEXIT" in out
    _no_jvm_crash(tmp_path, err)


def test_exit_does_not_wait_for_a_running_def_step(tmp_path: Path) -> None:
    code = """
    import asyncio, time
    from fireflytx import SagaEngine, saga, saga_step

    @saga("slow")
    class Slow:
        @saga_step("slow", timeout_ms=200)
        def slow(self) -> None:
            time.sleep(3600)

    async def main():
        async with SagaEngine() as engine:
            print((await engine.execute(Slow)).status.value, flush=True)

    asyncio.run(main())
    print("DONE", flush=True)
    """
    proc = _start(code, cwd=tmp_path)
    out, err = _finish(proc)
    assert proc.returncode == 0, err
    assert out.split() == ["COMPENSATED", "DONE"]
    _no_jvm_crash(tmp_path, err)


def test_the_cli_exits_130_with_one_line_on_ctrl_c(tmp_path: Path) -> None:
    target = tmp_path / "hangs.py"
    target.write_text(
        textwrap.dedent(
            """
            import time
            from fireflytx import saga, saga_step

            @saga("hangs")
            class Hangs:
                @saga_step("forever")
                def forever(self) -> None:
                    print("READY", flush=True)
                    time.sleep(3600)
            """
        )
    )
    code = f"""
    import sys
    sys.argv = ["fireflytx", "run", {str(target) + ":Hangs"!r}]
    from fireflytx.cli import main
    main()
    """
    proc = _start(code, cwd=tmp_path)
    out, err = _signal_when_ready(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted"
    _no_jvm_crash(tmp_path, err)


def test_a_ctrl_c_raised_inside_an_inline_observer_still_reaches_the_program(tmp_path: Path) -> None:
    # Inline observers run on the thread where events happen, the main one included: a
    # KeyboardInterrupt that lands inside one must not be logged away as an observer's failure.
    code = """
    from fireflytx import SagaEngine, saga, saga_step

    @saga("quick")
    class Quick:
        @saga_step("only")
        async def only(self) -> int:
            return 1

    class Interrupting:
        inline = True

        def on_event(self, event):
            if type(event).__name__ == "TransactionStarted":
                raise KeyboardInterrupt

    engine = SagaEngine(listeners=[Interrupting()]).start()
    try:
        engine.execute_sync(Quick)
        time.sleep(5)  # where a re-raised interrupt lands at the latest
    except KeyboardInterrupt:
        print("INTERRUPTED", engine.listener_errors, flush=True)
    """
    proc = _start(HANGING_SAGA.split("@saga")[0], code, cwd=tmp_path)
    out, err = _finish(proc)
    assert proc.returncode == 0, err
    assert out.split() == ["INTERRUPTED", "0", "ATEXIT"]
    _no_jvm_crash(tmp_path, err)
