"""The Java-to-Python callbacks every bridge needs, and how Python errors reach Java.

One listener of each kind serves all the runs of a bridge: keys (strings, since JPype 1.7.1
leaks a Python int for every Java number passed to Python) find the run or attempt.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, Protocol

from jpype import JImplements, JOverride


class _Run(Protocol):
    loop: asyncio.AbstractEventLoop
    loop_thread: int

    def cancel_attempt(self, attempt: Any) -> None: ...


def fail(future: Any, error: BaseException, error_id: int) -> bool:
    """Complete ``future`` with the Java carrier of a Python error, built on the Java side.

    A Java Throwable created from Python leaks about 200 bytes in JPype 1.7.1; strings and a
    long cross cleanly. Returns whether the engine still wanted the outcome.
    """
    return bool(future.failWithPython(type(error).__name__, str(error) or type(error).__name__, error_id))


@JImplements("dev.fireflytx.bridge.CancelListener", deferred=True)
class CancelListener:
    """Told by the engine's timeout that it gave up on an attempt; cancels the Python side."""

    def __init__(self, attempts: MutableMapping[str, tuple[Any, Any]]) -> None:
        self._attempts = attempts

    @JOverride
    def cancelled(self, attempt_key: Any) -> None:
        entry = self._attempts.pop(str(attempt_key), None)
        if entry is not None:
            entry[0].cancel_attempt(entry[1])


@JImplements("dev.fireflytx.bridge.Completions$Listener", deferred=True)
class CompletionListener:
    """Told when an engine run has ended; resolves the run's future on the run's own loop.

    ``engine_error(value, error)`` may turn a value the engine returned into the error it
    stands for (the TCC engine reports some of its own failures as results).
    """

    def __init__(
        self,
        runs: Mapping[str, tuple[_Run, asyncio.Future[Any]]],
        engine_error: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        self._runs = runs
        self._engine_error = engine_error

    @JOverride
    def completed(self, run_key: Any, value: Any, error: Any) -> None:
        entry = self._runs.get(str(run_key))
        if entry is None:
            return
        if self._engine_error is not None:
            error = self._engine_error(value, error)
        run, done = entry
        if threading.get_ident() == run.loop_thread:
            _settle(done, error)
        else:
            run.loop.call_soon_threadsafe(_settle, done, error)


def _settle(done: asyncio.Future[Any], error: Any) -> None:
    if not done.done():
        done.set_result(error)
