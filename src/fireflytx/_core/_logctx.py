"""Which run and step the code running now belongs to, for log records.

The kernel sets ``CURRENT`` around every attempt: in the task of an ``async def`` method (a
task has its own copy of the context, so nothing needs resetting, and tasks the method starts
inherit it) and around a ``def`` method on its worker thread. A log record factory installed
once per process copies it onto every record as ``tx_correlation_id``, ``tx_name``,
``tx_step_id`` and ``tx_phase`` (None outside a step), so any handler or formatter can use
them. The names are prefixed so they never clash with a caller's own ``extra`` keys.
"""

from __future__ import annotations

import logging
import threading
from contextvars import ContextVar
from typing import Any

__all__ = ["CURRENT", "FIELDS", "Scope", "install", "stamp"]

Scope = tuple[str, str, str, str]
"""(correlation id, transaction name, step or participant id, phase)."""

CURRENT: ContextVar[Scope | None] = ContextVar("fireflytx_step", default=None)

FIELDS = ("tx_correlation_id", "tx_name", "tx_step_id", "tx_phase")
"""The attributes every log record gets, in ``Scope`` order."""

_lock = threading.Lock()
_installed = False


def stamp(record: logging.LogRecord, scope: Scope | tuple[None, ...] | tuple[Any, ...]) -> None:
    """Set the run fields of ``record`` from ``scope``."""
    record.tx_correlation_id, record.tx_name, record.tx_step_id, record.tx_phase = scope


_NONE = (None, None, None, None)


def install() -> None:
    """Wrap the process's log record factory once, so every record carries the current step."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            stamp(record, CURRENT.get() or _NONE)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
