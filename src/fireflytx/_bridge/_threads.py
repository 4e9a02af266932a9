"""Python-owned threads for the engine's timers.

The engine runs retry backoff and timeouts on Reactor's ``parallel`` scheduler. Java-created threads
calling Python proxies cost ~25 µs per call, lose ``threading.local`` and leak memory in JPype 1.7.1,
so fireflytx replaces that scheduler with one whose threads are started here, from Python, and
park in Java waiting for work. They are stopped before the interpreter finalises: a thread that
comes back from Java into a finalising interpreter aborts the process.
"""

from __future__ import annotations

import threading
from typing import Any

from .._threads import start_daemon

_threads: list[threading.Thread] = []


def start_workers(count: int) -> Any:
    """Start ``count`` daemon threads serving the engine's timers; return the Java executor."""
    from jpype import JClass

    executor_class = JClass("dev.fireflytx.bridge.ParkedThreadExecutor")
    executor = executor_class()
    executor_class.installAsReactorParallel(executor)
    for index in range(count):
        _threads.append(start_daemon(executor.runWorker, f"fireflytx-timer-{index}"))
    return executor


def stop_workers(executor: Any) -> None:
    """Release the timer threads from Java and wait for them to end."""
    executor.shutdownNow()
    for thread in _threads:
        thread.join(timeout=2)
    _threads.clear()
