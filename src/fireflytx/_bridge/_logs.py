"""The engine's logs, forwarded to Python logging under ``fireflytx.java``.

Java code never calls Python to log: a Logback appender in the adapter queues each event, and a
Python-owned daemon thread drains the queue in batches, so logging costs the engine's threads
nothing extra and the event loop no GIL hand-over per line.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback

from .._core._logctx import stamp
from .._threads import start_daemon
from ..config import LogConfig

LOGGER = logging.getLogger("fireflytx.java")
_LEVELS = {
    "TRACE": 5,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
}
# Loggers that write a topology per run and a line per step at INFO.
CHATTY = tuple(
    "org.fireflyframework.transactional." + name
    for name in (
        "saga.engine.SagaEngine",
        "saga.engine.SagaExecutionOrchestrator",
        "saga.engine.SagaExecutionCommand",
        "saga.observability.SagaLoggerEvents",
        "tcc.engine.TccEngine",
        "tcc.engine.TccExecutionOrchestrator",
        "tcc.observability.TccLoggerEvents",
        "tcc.registry.TccRegistry",
        "shared.observability.LoggingTransactionalObserver",
    )
)


def set_logger_level(logger: str, level: str | None) -> None:
    """Set one Logback logger's level now (None: inherit again); the JVM must be running.

    Raises:
        ValueError: Logback does not know ``level``.
    """
    from jpype import JClass, JException

    appender = JClass("dev.fireflytx.bridge.PythonLogAppender")
    try:
        appender.setLevel(logger, level)
    except JException as exc:
        raise ValueError(str(exc.getMessage())) from exc


_ORDER = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF")


def chatty_level(level: str, topology: bool) -> str:
    """The level of the per-run and per-step loggers: ``level``, but at most WARN unless ``topology``.

    So they keep a failed step's warning without the chatter, and are as quiet as the rest of the
    engine at ERROR or OFF.
    """
    if topology:
        return level
    return max(level, "WARN", key=_ORDER.index)


def set_level(level: str, topology: bool) -> None:
    """Set the engine's log level (see ``chatty_level`` for the per-run and per-step loggers)."""
    from jpype import JClass

    appender = JClass("dev.fireflytx.bridge.PythonLogAppender")
    appender.setLevel("org.fireflyframework.transactional", level)
    for name in CHATTY:
        appender.setLevel(name, chatty_level(level, topology))


_stopping = threading.Event()
_thread: threading.Thread | None = None

WAIT_MS = 200
"""How long one call waits for a first event before checking whether to stop."""
LINGER_MS = 50
"""Once an event is there, how long more may gather before the batch crosses (how late a line usually is)."""
BATCH = 1_000
"""Events per crossing at most."""


def _drain() -> None:
    """Forward the engine's events in batches: each return of this thread to Python contends for the GIL."""
    from jpype import JClass

    appender = JClass("dev.fireflytx.bridge.PythonLogAppender")
    width = int(appender.FIELDS)
    separator, absent = str(appender.SEPARATOR), str(appender.ABSENT)
    while True:
        stopping = _stopping.is_set()
        text = str(appender.take(0 if stopping else WAIT_MS, 0 if stopping else LINGER_MS, BATCH))
        if not text:
            if stopping:
                return
            continue
        heard = lowest_heard()
        if heard is None:
            continue  # every line would reach only NullHandlers: Python logging would drop them all
        values = [None if v == absent else v for v in text.split(separator)]
        for start in range(0, len(values), width):
            try:
                _forward(heard, *values[start : start + width])
            except Exception:  # noqa: BLE001 - a handler raised: the lines after it must still arrive
                _handler_failed()


def lowest_heard() -> int | None:
    """The lowest level at which a ``fireflytx.java`` record would reach a handler that does anything.

    None when only ``NullHandler``s would get it (``fireflytx`` adds one, as libraries do, so
    Python's last-resort handler never writes these lines): then a record is made, stamped and
    handed on only to be dropped, on this thread, holding the GIL the event loop needs (several
    percent of a failing saga's cost, as each writes a warning). Read per batch, so a handler
    added later hears the next batch. A logger filter on the way sees every record, as it would.
    """
    lowest: int | None = None
    found = False
    logger: logging.Logger | None = LOGGER
    while logger is not None:
        if logger.filters:
            return 0
        for handler in logger.handlers:
            found = True
            if type(handler) is not logging.NullHandler:
                lowest = handler.level if lowest is None else min(lowest, handler.level)
        if not logger.propagate:
            break
        logger = logger.parent
    if not found and logging.lastResort is not None:
        return logging.lastResort.level
    return lowest


def _handler_failed() -> None:
    """Say once, on stderr as ``logging`` itself does, that a handler raised on an engine line."""
    global _handler_failures
    _handler_failures += 1
    if _handler_failures == 1 and logging.raiseExceptions:
        sys.stderr.write("--- fireflytx: a logging handler raised on an engine line (fireflytx.java) ---\n")
        traceback.print_exc(file=sys.stderr)
        sys.stderr.write("--- later failures are not shown; the lines after it still go out ---\n")


_handler_failures = 0


def _forward(
    heard: int, level: str | None, logger: str | None, message: str | None, thread: str | None,
    error: str | None, cid: str | None, name: str | None, unit: str | None,
) -> None:
    """Hand one engine line to Python logging, unless no handler hears its level (``lowest_heard``)."""
    number = _LEVELS.get(level or "INFO", logging.INFO)
    if number < heard or not LOGGER.isEnabledFor(number):
        return
    text = f"[{(logger or '').rsplit('.', 1)[-1]}] {message}"
    if error:
        text = f"{text}\n{error}"
    entry = LOGGER.makeRecord(
        LOGGER.name, number, "(java)", 0, "%s", (text,), None,
        extra={"java_logger": logger, "java_thread": thread},
    )
    # The line was written inside a run (see RunTags in the adapter); the engine's JSON lines
    # name the step they are about, which may be the next one the continuation started.
    step = _step_named_in(message) or unit
    stamp(entry, (cid, name, step, None))
    LOGGER.handle(entry)


_STEP_KEY = '"step_id":"'


def _step_named_in(message: str | None) -> str | None:
    """The ``step_id`` an engine JSON line names, if any; read without parsing when it has no escapes."""
    if message is None or not message.startswith("{") or '"step_id"' not in message:
        return None
    at = message.find(_STEP_KEY)
    if at >= 0:
        start = at + len(_STEP_KEY)
        end = message.find('"', start)
        if end >= 0 and "\\" not in message[start:end]:
            return message[start:end]
    try:
        step = json.loads(message).get("step_id")
    except (ValueError, AttributeError):
        return None
    return step if isinstance(step, str) else None


def start(config: LogConfig) -> None:
    """Apply the configured levels and start the draining thread."""
    global _thread
    set_level(config.level, config.topology)
    _thread = start_daemon(_drain, "fireflytx-java-log")


def stop() -> None:
    """Forward what is queued, then end the draining thread."""
    _stopping.set()
    if _thread is not None:
        _thread.join(timeout=2)
