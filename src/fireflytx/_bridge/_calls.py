"""The Java-to-Python callbacks every bridge needs, and how Python outcomes reach Java.

One completion listener serves all the runs of a bridge: keys (strings, since JPype 1.7.1 leaks a
Python int for every Java number passed to Python) find the run.
"""

from __future__ import annotations

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
    """Told when an engine run has ended; records it on the run and wakes its caller, on the run's loop.

    ``engine_error(value, error)`` may turn a value the engine returned into the error it
    stands for (the TCC engine reports some of its own failures as results).
    """

    def __init__(
        self,
        runs: MutableMapping[str, Any],
        engine_error: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        self._runs = runs
        self._engine_error = engine_error

    @JOverride
    def completed(self, run_key: Any, value: Any, error: Any) -> None:
        run = self._runs.pop(str(run_key), None)
        if run is None:
            return
        if self._engine_error is not None:
            error = self._engine_error(value, error)
        if threading.get_ident() == run.loop_thread:
            run.engine_ended(error)
        else:
            try:
                run.loop.call_soon_threadsafe(run.engine_ended, error)
            except RuntimeError:  # the run's loop is gone: nobody waits for it any more
                pass
