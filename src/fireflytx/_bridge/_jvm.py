"""The one JVM of the process: started lazily, checked first, never restarted.

JPype cannot restart a JVM, so engines come and go while the JVM stays. Its options are fixed by
the first engine that starts it; a later engine asking for different ones gets ``JvmStartError``.

Signals belong to Python. Left alone, the JVM installs its own SIGINT and SIGTERM handlers: JPype
then forwards SIGTERM from a Java thread into a Python it does not hold (a SIGSEGV and an
``hs_err_pid*.log``), and SIGINT lands on a Java thread while the main thread sleeps on. So the JVM
starts with ``-Xrs`` (it installs no handler for them and runs no shutdown hooks on them), and it and
the threads it and fireflytx create start with SIGINT and SIGTERM blocked (``fireflytx._threads``):
the kernel delivers both to the main thread, where Python's own handlers (or the
application's) run as if no JVM were there.
"""

from __future__ import annotations

import atexit
import gc
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._threads import process_signals_blocked
from ..config import FireflyTxSettings
from ..errors import JvmStartError
from . import _classpath
from ._java import JavaRuntime, find_java

_lock = threading.Lock()
_state: Jvm | None = None


@dataclass(frozen=True)
class Jvm:
    """What the running JVM was started with, and the Python threads that serve it."""

    java: JavaRuntime
    options: tuple[str, ...]
    classpath: tuple[str, ...]
    worker_threads: int
    executor: Any


def _options(settings: FireflyTxSettings) -> tuple[str, ...]:
    return (
        f"-Xms{settings.jvm.initial_heap}",
        f"-Xmn{settings.jvm.young_heap}",
        f"-Xmx{settings.jvm.max_heap}",
        "-Xss1m",
        "-XX:+UseSerialGC",
        "-Xrs",
        "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow",
        "-Dlogback.statusListenerClass=ch.qos.logback.core.status.NopStatusListener",
        *settings.jvm.options,
    )


def running() -> Jvm | None:
    """The started JVM, if any."""
    return _state


def ensure_started(settings: FireflyTxSettings) -> Jvm:
    """Start the JVM with the engine's verified classpath, or check that the running one fits.

    Raises:
        JavaNotFoundError: no Java 25+ runtime.
        JarsError: jars missing (offline) or not matching the lock file.
        JvmStartError: the JVM failed to start or already runs with other options.
    """
    global _state
    with _lock:
        if _state is not None:
            _check_compatible(_state, settings)
            return _state
        import jpype
        import jpype.config

        if jpype.isJVMStarted():
            raise JvmStartError(
                "a JVM was already started in this process by other code; fireflytx must start it itself "
                "with the engine's classpath. Create the fireflytx engine before other JPype users."
            )
        java = find_java(settings.jvm.java_home)
        cache_dir = settings.jars.cache_dir or _classpath.default_cache_dir()
        jars = _classpath.fetch(
            cache_dir,
            offline=settings.jars.offline,
            progress=_progress_printer(),
            timeout_s=settings.jars.download_timeout_s,
            mirror=settings.jars.maven_mirror,
        )
        classpath = (str(_classpath.adapter_jar()), *map(str, jars))
        options = _options(settings)
        # JPype's own atexit handler shuts the JVM down (destroy_jvm stays True: skipping it aborted
        # exits intermittently); fireflytx's handler, registered later, runs first and frees its threads.
        # interrupt=False: JPype installs no SIGINT handler of its own either.
        # convertStrings=True: a Java String returned to Python arrives as a str, with no JString wrapper
        # made and then converted. Every run's request lines come back that way (one string per start,
        # per answered batch): this cuts a 50-step chain's cost per step by about a sixth. The pump relies
        # on it; colder code still wraps such returns in str(), which is then a no-op.
        from . import _logs, _threads

        # The main thread's mask stays: the thread that starts the JVM gets the mask it had then back
        # when the JVM is destroyed at exit, and a main thread left blocking SIGINT would turn an
        # unhandled KeyboardInterrupt into exit status 130 instead of death by SIGINT.
        with process_signals_blocked(unless_main=True):
            try:
                jpype.startJVM(
                    str(java.libjvm),
                    *options,
                    classpath=list(classpath),
                    interrupt=False,
                    convertStrings=True,
                )
            except Exception as exc:
                raise JvmStartError(
                    f"starting Java {java.version} from {java.home} failed: {exc}. Check jvm.options and "
                    "jvm.max_heap, or choose another runtime with FIREFLYTX_JVM__JAVA_HOME."
                ) from exc
        with process_signals_blocked():
            executor = _threads.start_workers(settings.jvm.worker_threads)
        _logs.start(settings.logging)
        # Registered after JPype's own handler, so it runs first: threads leave Java before exit.
        atexit.register(_stop_threads, executor)
        if settings.jvm.freeze_gc:
            gc.freeze()
        _state = Jvm(java, options, classpath, settings.jvm.worker_threads, executor)
        if threading.current_thread() is not threading.main_thread():
            # The thread that creates the JVM is its non-daemon "main" thread, and destroying the JVM
            # at exit waits for every non-daemon thread: one that had ended without leaving Java would
            # hang the exit. Leave now; later calls from this thread attach it again as a daemon.
            jpype.java.lang.Thread.detach()
        return _state


def _stop_threads(executor: Any) -> None:
    from . import _logs, _threads

    _threads.stop_workers(executor)
    _logs.stop()


def _check_compatible(state: Jvm, settings: FireflyTxSettings) -> None:
    wanted = _options(settings)
    problems = []
    if wanted != state.options:
        problems.append(f"options {list(wanted)} (running: {list(state.options)})")
    if settings.jvm.java_home is not None and Path(settings.jvm.java_home) != state.java.home:
        problems.append(f"java_home {settings.jvm.java_home} (running: {state.java.home})")
    if problems:
        raise JvmStartError(
            "the JVM of this process is already running and cannot be restarted, but this engine asks for "
            + "; ".join(problems)
            + ". Use the same jvm settings for every engine in a process."
        )


def _progress_printer() -> Any:
    """A rich progress bar on stderr while jars download (only shown when something downloads)."""
    state: dict[str, Any] = {}

    def report(artifact: _classpath.Artifact, downloaded: bool) -> None:
        if "bar" not in state:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            lock = _classpath.load_lock()
            bar = Progress(
                TextColumn("fetching engine jars"),
                BarColumn(),
                DownloadColumn(),
                TextColumn("{task.description}"),
                console=Console(stderr=True),
                transient=True,
            )
            bar.start()
            state["bar"] = bar
            state["task"] = bar.add_task("", total=lock.total_size)
            state["last"] = lock.artifacts[-1]
        bar = state["bar"]
        bar.update(state["task"], advance=artifact.size, description=artifact.artifact)
        if artifact == state["last"]:
            bar.stop()

    return report
