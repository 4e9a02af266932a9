"""One event loop's end of a Java ``RunPump``: the engine's requests in, Python's answers out, in batches.

The engine's handlers never call Python. They queue request lines on the pump of the run's loop
(``RunPump.java`` documents the format), and this module drains them: once when a run starts (the
start call returns its first requests), then once per loop turn in which attempts succeeded (one
``exchange`` call hands back all of that turn's successes and returns whatever the engine asked for
next), and whenever Java wakes the loop because a request arrived from a timer thread. Only strings
cross, and the crossings of a run do not grow with the steps that run in one loop turn. On a busy
loop a run's start is no call of its own either: it is one more line in the turn's batch
(``start_later``), started by the same call that hands back the turn's successes.

A success on the loop is answered at once instead when nothing else is ready to run there
(CPython's loops keep that queue as ``_ready``; a loop without one always batches): no other
answer could join the batch, and a chain of steps would pay a loop turn per step for it. Likewise,
when only the batch's own callback is left, the last success sends the batch itself.

Failures are rarer and carry a message, so each is handed to Java at once, from whatever thread
finished the attempt; on the loop, the same call drains what the engine asks next (its
compensations, a retry) instead of waking the loop through its self-pipe. A success finished on a
worker thread is answered from there too, and its answer drains what the engine asks next, on that
thread. While the loop acts on request lines, a success or failure found on the way does not drain
more in the middle of them (it waits for the batch or the engine's wake-up): a cancelled run, which
fails each step request it gets at once, cannot recurse once per request.

A call into Java that raises (the JVM is failing: out of memory, say) carried answers or starts
that nobody knows the engine's fate of: every run on that loop then ends at once with the Java
error (``_lost``), rather than waiting forever for requests that may never come.

The waker reaches this object through a weak reference: Java holds the waker, and a strong
reference back would make a cycle across the two heaps that neither collector sees, keeping every
loop's pump alive.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jpype import JException, JImplements, JOverride

from .._core._attempt import safe_text
from ..errors import FireflyTxError, JavaExecutionError
from ._errors import to_python

_run_keys = itertools.count(1)
_log = logging.getLogger("fireflytx.engine")

__all__ = ["LoopPump", "PumpedBridge", "Starts"]


class Crossings:
    """Calls across the JNI boundary on the run path, counted for the benchmark's cost per saga.

    Plain integer increments (a few nanoseconds each); exact when one thread crosses at a time, as
    with ``async def`` steps, approximate when ``def`` steps answer from several worker threads.
    """

    __slots__ = ("from_java", "into_java")

    def __init__(self) -> None:
        self.into_java = 0
        """Python calling an adapter method (start a run, answer, fail, drain)."""
        self.from_java = 0
        """The adapter calling Python (a pump's wake-up)."""


CROSSINGS = Crossings()


@JImplements("dev.fireflytx.bridge.RunPump$Waker", deferred=True)
class _Waker:
    def __init__(self, pump: weakref.ref[LoopPump]) -> None:
        self._pump = pump

    @JOverride
    def wake(self) -> None:
        CROSSINGS.from_java += 1
        pump = self._pump()
        if pump is not None:
            pump.wake()


class LoopPump:
    """Drains one loop's requests into its bridge's ``_dispatch`` and batches the loop's answers to Java."""

    def __init__(self, pump_class: Any, loop: asyncio.AbstractEventLoop, bridge: PumpedBridge) -> None:
        """Made on ``loop``'s own thread (by the first run of that loop); ``bridge`` is a weak proxy."""
        # Weakly: the bridge keeps its pumps by loop in a weak-keyed dictionary, and a pump holding its
        # loop would keep that loop, the pump and its Java half alive as long as the bridge.
        self.loop_ref = weakref.ref(loop)
        self.loop_thread = threading.get_ident()
        self.java = pump_class(_Waker(weakref.ref(self)))
        # Bound once: looking a method up on a Java object makes a new bound method each time. The
        # JVM converts the request lines they return to str (see _jvm's convertStrings).
        self._java_exchange = self.java.exchange
        self._java_exchange_and_start = self.java.exchangeAndStart
        self._java_fail_and_drain = self.java.failAndDrain
        # A weak proxy: the bridge keeps its pumps, and a pump must not keep its bridge. Its
        # _dispatch is looked up per batch, a bound method made in C (a lambda would add a frame).
        self._bridge = bridge
        self._succeeded: deque[str] = deque()
        self._starts: list[str] = []
        """Runs to start with the batch, one ``<launcher> <run key> <correlation id>`` line each."""
        self._launchers: dict[Any, tuple[Any, str]] = {}
        """Per definition (as its bridge keys it): the definition and its launcher's name on the Java pump."""
        self._retired: list[str] = []
        """Launchers of replaced definitions, forgotten once the start lines naming them are sent."""
        self._scheduled: weakref.ref[asyncio.Handle] | None = None
        """The loop callback that will send the batch, once one is waiting. Weakly: a loop closed with
        it still queued holds it, and through it this pump; the pump must not hold the loop back."""
        self._dispatching = False
        """The loop thread is acting on request lines."""
        ready = getattr(loop, "_ready", None)
        self._ready: deque[Any] | None = ready if isinstance(ready, deque) else None

    def handle(self, lines: str) -> None:
        """Act on request lines that a start call returned (on this loop's thread)."""
        if lines:
            self._act(lines)

    def _act(self, lines: str) -> None:
        """Act on request lines on the loop thread."""
        if self._dispatching:  # lines drained while acting on others (see reply_at_once)
            self._bridge._dispatch(self, lines)
            return
        self._dispatching = True
        try:
            self._bridge._dispatch(self, lines)
        finally:
            self._dispatching = False

    def _batch(self, attempt_key: str) -> None:
        """Answer with the next loop turn's ``exchange`` (on the loop thread; an empty key only drains)."""
        if attempt_key:
            self._succeeded.append(attempt_key)
        if self._scheduled is None:
            loop = self.loop_ref()
            if loop is not None:  # on its own thread it always is
                self._scheduled = weakref.ref(loop.call_soon(self.pump))

    def busy(self) -> bool:
        """Whether other callbacks are ready in this loop turn, so a batch is worth waiting for."""
        return bool(self._ready)

    def start_later(self, launcher: str, run_key: str, correlation_id: str) -> None:
        """Start a run with this loop turn's batch (on the loop thread): no crossing of its own.

        ``correlation_id`` must hold no newline (lines are split on them).
        """
        self._starts.append(f"{launcher} {run_key} {correlation_id}")
        self._batch("")

    def launcher(self, key: Any, make: Callable[[Any, Any], Any], engine: Any, definition: Any) -> str:
        """The name on the Java pump of a launcher of ``definition`` on ``engine``, made by ``make``.

        ``key`` names the definition as its bridge knows it; a definition replaced under the same key
        (its class changed) gets a new launcher, and the old one is forgotten on both sides once the
        start lines already naming it have been sent.
        """
        known = self._launchers.get(key)
        if known is not None and known[0] is definition:
            return known[1]
        CROSSINGS.into_java += 2
        name = str(self.java.addLauncher(make(engine, definition)))
        if known is not None:
            self._retired.append(known[1])
        self._launchers[key] = (definition, name)
        return name

    def _send(self) -> str:
        """Hand Java the batch (its successes and run starts); what it asks next (on the loop thread)."""
        succeeded = self._succeeded
        keys = " ".join(succeeded)
        succeeded.clear()
        CROSSINGS.into_java += 1
        starts = self._starts
        if not starts:
            return self._java_exchange(keys)  # type: ignore[no-any-return]
        text = "\n".join(starts)
        starts.clear()
        lines: str = self._java_exchange_and_start(keys, text)
        retired = self._retired
        while retired:
            CROSSINGS.into_java += 1
            self.java.removeLauncher(retired.pop())
        return lines

    def reply(self, attempt_key: str, error: BaseException | None) -> None:
        """Answer one request; from any thread. Successes on a busy loop wait for the turn's batch."""
        on_loop = threading.get_ident() == self.loop_thread
        if error is not None:
            name = type(error).__name__
            text = safe_text(error) or name
            if on_loop and not self._dispatching:
                self._fail_and_drain(attempt_key, name, text)
            else:
                self._fail(attempt_key, name, text)
            return
        if not on_loop:
            # A worker thread finished a `def` attempt: answer from here, as one crossing, so that the
            # engine's next request is handled on this thread too (a `def` step starts from here at
            # once) instead of waiting for the loop to wake up.
            CROSSINGS.into_java += 1
            try:
                lines = self._java_exchange(attempt_key)
            except Exception as exc:  # noqa: BLE001 - see _lost
                self._lost(exc)
                return
            if lines:
                self._bridge._dispatch(self, lines)
            return
        ready = self._ready
        if ready is None or self._dispatching:
            self._batch(attempt_key)
            return
        try:
            if not ready:
                # Nothing else is ready on the loop, so no other answer could join a batch this turn
                # (and no run start waits: one would have scheduled the batch's callback).
                CROSSINGS.into_java += 1
                lines = self._java_exchange(attempt_key)
            elif len(ready) == 1 and self._scheduled is not None and ready[0] is self._scheduled():
                # Only the batch's own callback is left in this turn: send the batch with this answer now.
                batch: Any = ready[0]
                batch.cancel()
                self._scheduled = None
                self._succeeded.append(attempt_key)
                lines = self._send()
            else:
                self._batch(attempt_key)
                return
        except Exception as exc:  # noqa: BLE001 - see _lost
            self._lost(exc)
            return
        if lines:
            self._act(lines)

    def _fail(self, attempt_key: str, name: str, text: str) -> None:
        CROSSINGS.into_java += 1
        try:
            self.java.fail(attempt_key, name, text)
        except Exception:  # a JVM refusing the text: fail without a message rather than hang the run
            try:
                self.java.fail(attempt_key, "Error", "fireflytx could not describe this error")
            except Exception as exc:  # noqa: BLE001 - refusing even that: see _lost
                self._lost(exc)

    def _fail_and_drain(self, attempt_key: str, name: str, text: str) -> None:
        """Fail one attempt and act on what the engine asks next, in one crossing (on the loop thread)."""
        CROSSINGS.into_java += 1
        try:
            lines = self._java_fail_and_drain(attempt_key, name, text)
        except Exception:  # the JVM refused the text: answer the plain way, and drain next turn
            self._fail(attempt_key, name, text)
            self._batch("")
            return
        if lines:
            self._act(lines)

    def reply_at_once(self, attempt_key: str, error: BaseException | None) -> None:
        """Answer now, not with the loop turn's batch: for undoing, which runs one step at a time.

        A compensation or cancel rarely shares a loop turn with others, so waiting for the batch
        would only add a turn between one and the next.
        """
        if error is not None or threading.get_ident() != self.loop_thread:
            self.reply(attempt_key, error)
            return
        # Even while the loop acts on request lines (a TCC cancel the engine asks for after fireflytx
        # cancelled the participant is answered at once, and the engine asks for the next): each
        # such answer is one of a run's few undo requests, so the nesting stays shallow.
        CROSSINGS.into_java += 1
        try:
            lines = self._java_exchange(attempt_key)
        except Exception as exc:  # noqa: BLE001 - see _lost
            self._lost(exc)
            return
        if lines:
            self._act(lines)

    def _lost(self, error: Exception) -> None:
        """A call into Java raised: end every run of this loop with ``error``; from any thread.

        The call carried answers, or run starts, and the engine may have taken some of them, all or
        none: what it holds of this loop's runs is unknown, and a run still waiting for a request
        might wait forever. Each run ends with the Java error (``JavaExecutionError``), its steps
        still running are cancelled, and the runs after these start afresh. Requests the engine
        still sends for the ended runs are failed as for any run fireflytx does not know
        (``_dispatch``), so its side winds down too.
        """
        self._succeeded.clear()
        self._starts.clear()
        described = _described(error)
        _log.error(
            "a call into the Java engine failed (%s: %s); every run on this event loop ends with this error",
            described[0], described[1],
        )
        self._bridge._lose_runs(self, error, described)

    def wake(self) -> None:
        """Drain soon, on this pump's loop; from any thread."""
        loop = self.loop_ref()
        if loop is None:  # the loop is gone, and with it every run that could wait for this
            return
        try:
            loop.call_soon_threadsafe(self.pump)
        except RuntimeError:  # the loop is closed: no run of it is waiting any more
            pass

    def pump(self) -> None:
        """Hand Java this turn's successes and act on everything it asks for next (on the loop)."""
        # Cleared first: an answer arriving while we drain schedules the next turn itself.
        self._scheduled = None
        try:
            lines = self._send()
        except Exception as exc:  # noqa: BLE001 - see _lost
            self._lost(exc)
            return
        if lines:
            self._act(lines)


@dataclass(frozen=True, slots=True)
class Starts:
    """An adapter's ``SagaRuns`` or ``TccRuns``: its two ways to start a run, looked up once."""

    start: Callable[[Any, Any, str, str, Any], str]
    """``start(engine, definition, correlation_id, run_key, java_pump)``: now; the first request lines."""
    launcher: Callable[[Any, Any], Any]
    """``launcher(engine, definition)``: a Java launcher of runs, for a pump's start lines."""


def _no_pump() -> LoopPump | None:
    return None


LOST_NOTE = (
    "fireflytx: this error came out of a call that handed the engine answers for every run on this event "
    "loop; what the engine did with them is unknown, so each of those runs ended with it. Steps that had "
    "completed may not have been undone (a durable run is finished by recovery)."
)


def _described(error: Exception) -> tuple[str, str, str]:
    """``error``'s Java class, message and stack, read once: asking a failing JVM may fail again."""
    if isinstance(error, JException):
        try:
            known = to_python(error)
        except Exception:  # noqa: BLE001 - the JVM cannot even describe it
            return type(error).__name__, str(error), ""
        return known.java_class, known.java_message, known.java_stacktrace
    return type(error).__name__, str(error), ""


def _end_lost(run: Any, error: Exception, described: tuple[str, str, str]) -> None:
    """End ``run`` with ``error`` as its engine's error (on its loop), its running steps cancelled."""
    lost = JavaExecutionError(*described)
    lost.__cause__ = error
    lost.add_note(LOST_NOTE)
    run.cancel()
    run.engine_ended(lost)


class PumpedBridge:
    """What the saga and TCC bridges share: their runs, one pump per event loop, and reading request lines.

    Subclasses translate a definition (``_translate``) and say what a request for one of their units
    means (``_request``); the ends of runs (``E`` and ``F`` lines) are handled here.
    """

    def __init__(self, pump_class: Any) -> None:
        self._pump_class = pump_class
        # Keyed by strings: numbers passed from Java into Python leak in JPype 1.7.1 (#1379).
        self.runs: dict[str, Any] = {}
        self._pumps: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopPump] = (
            weakref.WeakKeyDictionary()
        )
        self._last_pump: Callable[[], LoopPump | None] = _no_pump
        self._definitions: dict[str, tuple[Any, Any, dict[str, Any]]] = {}
        """Per definition name: its spec, the engine's definition and its units by the keys the engine's
        requests name them by (see ``_registered``)."""

    def register(self, spec: Any) -> Any:
        """Translate ``spec`` into an engine definition (cached by name, replaced on change)."""
        return self._registered(spec)[1]

    def _registered(self, spec: Any) -> tuple[Any, Any, dict[str, Any]]:
        """``spec``, its engine definition, and its units by the unit keys the engine's requests name.

        Each registration gets keys of its own, and each run keeps its definition's (its bridge's
        ``start`` sets ``units_by_key``): a run still in flight when its class was replaced under the
        same name goes on finding its own units.
        """
        known = self._definitions.get(spec.name)
        if known is not None and known[0] is spec:
            return known
        definition, units = self._translate(spec)
        registered = (spec, definition, units)
        self._definitions[spec.name] = registered
        return registered

    def _translate(self, spec: Any) -> tuple[Any, dict[str, Any]]:
        """The engine definition of ``spec`` and its units by the keys given them (new keys each call)."""
        raise NotImplementedError

    def pump_for(self, loop: asyncio.AbstractEventLoop) -> LoopPump:
        """The pump of ``loop`` (made on first use; call on that loop's thread)."""
        # Most runs start on the loop the last one did: a weak reference to its pump spares the
        # weak-keyed lookup (which makes a weak reference to the loop each time).
        pump = self._last_pump()
        if pump is not None and pump.loop_ref() is loop:
            return pump
        pump = self._pumps.get(loop)
        if pump is None:
            pump = self._pumps[loop] = LoopPump(self._pump_class, loop, weakref.proxy(self))
        self._last_pump = weakref.ref(pump)
        return pump

    def _start_run(
        self, run: Any, runs: Starts, engine: Any, definition: Any, key: Any
    ) -> asyncio.Future[None]:
        """Start ``run`` on its loop's pump; the future resolves when the engine's run has ended.

        ``runs`` is the adapter's ``SagaRuns`` or ``TccRuns``. On a busy loop the run starts with the
        turn's batch (``start_later``, through a launcher of ``definition`` on ``engine`` that the pump
        keeps under ``key``): its start then costs no crossing of its own, and a start the engine
        refuses ends the run with that error. Otherwise ``runs.start`` starts it at once and returns
        the request lines the engine answered with.
        """
        pump = self.pump_for(run.loop)
        run.reply = pump.reply
        run.reply_at_once = pump.reply_at_once
        run_key = str(next(_run_keys))
        done: asyncio.Future[None] = run.until_ended()
        self.runs[run_key] = run
        if pump.busy() and "\n" not in run.correlation_id:
            try:
                launcher = pump.launcher(key, runs.launcher, engine, definition)
            except JException as exc:
                self.runs.pop(run_key, None)
                raise to_python(exc) from exc
            pump.start_later(launcher, run_key, run.correlation_id)
            return done
        CROSSINGS.into_java += 1
        try:
            lines = runs.start(engine, definition, run.correlation_id, run_key, pump.java)
        except JException as exc:  # as map_java_errors does, without a context manager per run
            self.runs.pop(run_key, None)
            raise to_python(exc) from exc
        except BaseException:
            self.runs.pop(run_key, None)
            raise
        pump.handle(lines)
        return done

    def _lose_runs(self, pump: LoopPump, error: Exception, described: tuple[str, str, str]) -> None:
        """End every run of ``pump`` with ``error`` (see ``LoopPump._lost``); from any thread."""
        mine = pump.reply
        for run_key, run in list(self.runs.items()):
            if run.reply == mine and self.runs.pop(run_key, None) is not None:
                run.on_loop(_end_lost, run, error, described)

    def error_of(self, run: Any, error: Any) -> BaseException | None:
        """The fireflytx error for what the engine's run ended with (None: it ended as recorded).

        ``error`` is the engine's Java exception, or the fireflytx error a run was ended with when
        its loop's call into Java failed (``_lost``), which stands as it is.
        """
        if error is None or isinstance(error, FireflyTxError):
            return error
        return self._java_error(run, error)

    def _java_error(self, run: Any, error: Any) -> BaseException | None:
        """What the engine's own exception means for ``run``: by default, the error it names."""
        return to_python(error)

    def _dispatch(self, pump: LoopPump, text: str) -> None:
        """Act on request lines; on the loop's thread, or on a worker thread that just answered."""
        runs = self.runs
        for line in text.split("\n"):
            if not line:
                continue
            kind = line[0]
            if kind == "E" or kind == "F":
                run = runs.pop(line[1:], None)
                if run is not None:
                    if kind == "F":
                        CROSSINGS.into_java += 1
                    error = None if kind == "E" else pump.java.failure(line[1:])
                    run.on_loop(run.engine_ended, error)
                continue
            run_key, unit, key = line[1:].split(" ")
            run = runs.get(run_key)
            if run is None:  # cannot happen while the engine keeps its word; never leave it waiting
                pump.reply(key, RuntimeError(f"fireflytx knows no run {run_key!r}"))
                continue
            try:
                self._request(run, kind, unit, key)
            except Exception as exc:  # a bug here must fail the attempt, not strand the run
                run.reply(key, exc)

    def _request(self, run: Any, kind: str, unit: str, key: str) -> None:
        raise NotImplementedError
