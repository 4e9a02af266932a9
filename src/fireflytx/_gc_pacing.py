"""Python's generation-0 collection threshold while engines run.

A run allocates many short-lived containers (coroutines, tasks, futures, dicts, attempt records).
At CPython's default generation-0 threshold of 700 allocations a busy engine spent about a tenth
of its event loop in young collections. While at least one engine runs, the threshold is raised to
``FireflyTxSettings.python_gc_threshold``. The last engine to stop puts back what the first found,
unless the application set another threshold in between: that one is kept.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["hold", "release"]

_lock = threading.Lock()
_holders = 0
_found: tuple[int, ...] | None = None
"""The thresholds the first holder found (to put back)."""
_set: tuple[int, ...] | None = None
"""The thresholds set here (None: the application's were already higher and were left alone)."""


def hold(threshold: int | None) -> bool:
    """Keep generation 0's threshold at least ``threshold`` until ``release``; whether this holds.

    ``None`` holds nothing. A threshold already higher (the application's) is left as it is, and
    while engines run, the first holder's ``threshold`` applies.
    """
    global _holders, _found, _set
    if threshold is None:
        return False
    with _lock:
        _holders += 1
        if _holders == 1:
            found = gc.get_threshold()
            _found = found
            if found[0] < threshold:
                _set = (threshold, *found[1:])
                gc.set_threshold(*_set)
            else:
                _set = None
    return True


def release() -> None:
    """End one ``hold``; the last puts back the thresholds the first found, unless changed since."""
    global _holders, _found, _set
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders:
            return
        if _set is not None and _found is not None and gc.get_threshold() == _set:
            gc.set_threshold(*_found)
        _found = _set = None
