"""Logs that say which transaction, and which step, they belong to.

Once an engine exists, every log record carries four attributes, set from the step that is
running when the record is made (None outside a step):

- ``tx_correlation_id``: the run's correlation id;
- ``tx_name``: the saga's or TCC's name;
- ``tx_step_id``: the saga step or TCC participant id;
- ``tx_phase``: ``step``, ``compensation``, ``try``, ``confirm`` or ``cancel``.

This holds for your own loggers and fireflytx's inside ``async def`` steps (and tasks they
start) and inside ``def`` steps on their worker threads, and for the engine's Java lines
(logger ``fireflytx.java``) written while it carries a run forward (``tx_phase`` is None there,
and lines the engine writes on its own timer threads, between a failed attempt and its retry,
carry no run). Use them in any format (``"%(tx_correlation_id)s %(message)s"``), or use
``JsonFormatter`` for one JSON object per line.

The attributes come from a log record factory that the first engine installs around the one it
finds (``logging.setLogRecordFactory``); code that replaces the factory later should wrap the
one it finds, as fireflytx does.

The engine's log level is the ``logging.level`` setting when the JVM starts, and
``set_java_log_level`` changes it (or one engine logger's) while it runs.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from ._core._logctx import FIELDS
from .errors import EngineNotStartedError

__all__ = ["FIELDS", "JsonFormatter", "set_java_log_level"]

ENGINE_LOGGER = "org.fireflyframework.transactional"
"""The engine's root logger."""

_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "OFF")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the run's fields, and more.

    Keys: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``thread``; then
    ``correlation_id``, ``transaction``, ``step_id`` and ``phase`` when the record was made inside
    a step; ``java_logger`` and ``java_thread`` for the engine's lines; ``exception`` with the
    formatted traceback when there is one. ``extra`` names the record attributes of your own
    ``extra={...}`` to add (values that are not JSON become their ``str``).
    """

    def __init__(self, extra: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._extra = extra

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "thread": record.threadName,
        }
        for field, key in zip(FIELDS, ("correlation_id", "transaction", "step_id", "phase"), strict=True):
            value = getattr(record, field, None)
            if value is not None:
                entry[key] = str(value)
        for key in ("java_logger", "java_thread", *self._extra):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


def set_java_log_level(level: str, logger: str = ENGINE_LOGGER) -> None:
    """Change the level of the engine's logger ``logger`` (default: all of the engine) now.

    ``level`` is TRACE, DEBUG, INFO, WARN, ERROR or OFF. Lines below it are not even formatted on
    the Java side; what passes still goes through the Python level of ``fireflytx.java``. Give a
    full logger name to change one part (the per-step lines come from
    ``org.fireflyframework.transactional.saga.engine.SagaExecutionOrchestrator``), or ``"ROOT"``.
    The starting level is the ``logging.level`` setting.

    Raises:
        ValueError: ``level`` is not one of the above.
        EngineNotStartedError: no engine has started the JVM yet in this process.
    """
    if level.upper() not in _LEVELS:
        raise ValueError(f"unknown Java log level {level!r}: use one of TRACE, DEBUG, INFO, WARN, ERROR, OFF")
    from ._bridge import _jvm, _logs

    if _jvm.running() is None:
        raise EngineNotStartedError(
            "the engine's log level can only change once the JVM runs: start an engine first, or set the "
            "starting level with FireflyTxSettings(logging=LogConfig(level=...)) / FIREFLYTX_LOGGING__LEVEL"
        )
    _logs.set_logger_level(logger, level.upper())
