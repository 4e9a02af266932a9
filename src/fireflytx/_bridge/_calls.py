"""The Java-to-Python callbacks every bridge needs, and how Python outcomes reach Java.

One completion listener serves all the runs of a bridge: keys (strings, since JPype 1.7.1 leaks a
Python int for every Java number passed to Python) find the run.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, MutableMapping
from typing import Any

from jpype import JImplements, JOverride

from .._core._attempt import safe_text


def fail(future: Any, error: BaseException) -> bool:
    """Complete ``future`` with the Java carrier of a Python error, built on the Java side.

    A Java Throwable created from Python leaks about 200 bytes in JPype 1.7.1; strings cross
    cleanly. The Python error itself stays with the run's records: Java only logs this one.
    Returns whether the engine still wanted the outcome; never raises.
    """
    try:
        return bool(future.failWithPython(type(error).__name__, safe_text(error) or type(error).__name__, 0))
    except Exception:  # a JVM that refuses even this: fail without a message rather than hang the run
        return bool(future.failWithPython("Error", "fireflytx could not describe this error", 0))


def completer(future: Any, token: Any) -> Callable[[BaseException | None], bool]:
    """The callback that hands one attempt's outcome to its engine future."""

    def complete(error: BaseException | None) -> bool:
        if error is None:
            return bool(future.complete(token))
        return fail(future, error)

    return complete


@JImplements("dev.fireflytx.bridge.Completions$Listener", deferred=True)
class CompletionListener:
    """Told when an engine run has ended; resolves the run's future on the run's own loop.

    ``engine_error(value, error)`` may turn a value the engine returned into the error it
    stands for (the TCC engine reports some of its own failures as results).
    """

    def __init__(
        self,
        runs: MutableMapping[str, tuple[Any, asyncio.Future[Any]]],
        engine_error: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        self._runs = runs
        self._engine_error = engine_error

    @JOverride
    def completed(self, run_key: Any, value: Any, error: Any) -> None:
        entry = self._runs.pop(str(run_key), None)
        if entry is None:
            return
        if self._engine_error is not None:
            error = self._engine_error(value, error)
        run, done = entry
        if threading.get_ident() == run.loop_thread:
            _settle(done, error)
        else:
            try:
                run.loop.call_soon_threadsafe(_settle, done, error)
            except RuntimeError:  # the run's loop is gone: nobody waits for it any more
                pass


def _settle(done: asyncio.Future[Any], error: Any) -> None:
    if not done.done():
        done.set_result(error)
