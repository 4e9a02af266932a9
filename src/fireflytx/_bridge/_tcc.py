"""TCC transactions on the Firefly ``TccEngine``: translation, participant proxies and the run itself.

Same shape as ``_saga``: one ``PyTccParticipant`` proxy per participant and one listener per
engine, created once and reused; values never cross (the engine sees a token, Python keeps the real
try results); each call into Python happens on a Python-owned thread.

What the engine needs and does not say (engine-facts.md §3): a non-null ``TccRegistry`` (built
over an empty refreshed Spring context), non-null events, ``TccInputs.empty()`` rather than null,
and a try that never completes empty. Its phase timeout cannot be switched off, so "no limit" is a
century. Its cancel phase fails as soon as two participants need cancelling, so fireflytx runs
cancels itself (``_tcc_run``) and expects that failure afterwards. A participant proxy finds
its run's Python state through a variable on the ``TccContext`` the engine passes to every call.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar, cast

from jpype import JClass, JImplements, JOverride, JString

from fireflytx._bridge._calls import CompletionListener, completer, fail
from fireflytx._bridge._errors import map_java_errors, to_python
from fireflytx._bridge._facade import facade
from fireflytx._bridge._protocol import JavaObject
from fireflytx._tcc_definition import CANCEL, CONFIRM, TRY, ParticipantSpec, TccSpec
from fireflytx._tcc_run import TccRun

_P = "org.fireflyframework.transactional."
_ids = itertools.count(1)

RUN_VARIABLE = "fireflytx.run"

F = TypeVar("F", bound=Callable[..., Any])


def _override(method: F) -> F:
    """``JOverride`` with its type kept (JPype is untyped)."""
    return cast(F, JOverride(method))


class _Java:
    """Java classes and shared objects, resolved once."""

    def __init__(self) -> None:
        self.facade = facade()
        self.TccContext = JClass(_P + "tcc.core.TccContext")
        # fireflytx passes no inputs through the engine: an empty TccInputs (never null) serves every run.
        self.NO_INPUTS = JClass(_P + "tcc.core.TccInputs").empty()
        self.StepFuture = JClass("dev.fireflytx.bridge.StepFuture")
        self.Completions = JClass("dev.fireflytx.bridge.Completions")
        self.TccRuns = JClass("dev.fireflytx.bridge.TccRuns")
        self.Mono = JClass("reactor.core.publisher.Mono")
        self.UnsupportedOperationException = JClass("java.lang.UnsupportedOperationException")
        self.TOKEN = JClass("java.lang.Boolean").TRUE
        self.JUST_TOKEN = self.Mono.just(self.TOKEN)
        self.RUN_VARIABLE = JClass("java.lang.String")(RUN_VARIABLE)
        # The registry holds nothing fireflytx uses (definitions are handed to the engine), so every
        # engine of the process shares one.
        self.registry = self.facade.tccRegistry()


_java: _Java | None = None
_java_lock = threading.Lock()


def java() -> _Java:
    """The resolved classes (the JVM must be running)."""
    global _java
    with _java_lock:
        if _java is None:
            with map_java_errors():
                _java = _Java()
        return _java


class TccBridge:
    """Runs TCC transactions on one Java ``TccEngine`` for one fireflytx ``TccEngine``."""

    def __init__(self) -> None:
        self._j = java()
        with map_java_errors():
            self._engine = self._j.facade.tccEngine(self._j.registry)
        self._definitions: dict[str, tuple[TccSpec, JavaObject]] = {}
        # Keyed by strings: numbers passed from Java into Python leak in JPype 1.7.1 (#1379).
        self.runs: dict[str, TccRun] = {}
        self._completion_listener = CompletionListener(self.runs, _engine_error)

    def register(self, spec: TccSpec) -> JavaObject:
        """Translate ``spec`` into an engine ``TccDefinition`` (cached by name, replaced on change).

        As for sagas, the participant proxies reach this bridge only through a weak reference, so
        a stopped engine's definitions are not kept alive by a cycle through Java.
        """
        known = self._definitions.get(spec.name)
        if known is not None and known[0] is spec:
            return known[1]
        bridge = weakref.proxy(self)
        with map_java_errors():
            definition = self._j.facade.tcc(spec.name)
            for participant in spec.participants:
                self._participant(definition, participant, bridge)
        self._definitions[spec.name] = (spec, definition)
        return definition

    def _participant(self, definition: JavaObject, p: ParticipantSpec, bridge: TccBridge) -> None:
        confirm = p.confirm_phase
        # fireflytx times every attempt itself, from when it starts running (see _core._run): the
        # engine's timer would race a result arriving at the limit and drop it. A timeout of 0 is
        # "no limit" to the facade. fireflytx runs cancels itself and answers the engine's calls.
        self._j.facade.addParticipant(
            definition,
            p.participant_id,
            p.order,
            _Participant(bridge, p),
            p.try_phase.retry,
            p.try_phase.backoff_ms,
            0,
            confirm.retry,
            confirm.backoff_ms,
            0,
            0,
            0,
        )

    def start(self, run: TccRun) -> asyncio.Future[None]:
        """Start ``run`` on the engine; the future resolves when the engine's run has ended."""
        definition = self.register(run.spec)
        run_key = str(next(_ids))
        done = run.until_ended()
        self.runs[run_key] = run
        try:
            with map_java_errors():
                context = self._j.TccContext(run.correlation_id)
                context.setVariable(self._j.RUN_VARIABLE, run_key)
                self._j.TccRuns.start(
                    self._engine, definition, self._j.NO_INPUTS, context, run_key, self._completion_listener
                )
        except BaseException:
            self.runs.pop(run_key, None)
            raise
        return done

    def error_of(self, run: TccRun, error: Any) -> BaseException | None:
        """The fireflytx error for what the engine's run ended with (None: it ended as recorded)."""
        if error is None:
            return None
        if run.cancelled_by_fireflytx and isinstance(error, self._j.UnsupportedOperationException):
            # The engine's cancel phase throws this whenever two or more participants were tried;
            # fireflytx had already cancelled them all, so the run ended as recorded.
            return None
        return to_python(error)


@JImplements("dev.fireflytx.bridge.PyTccParticipant", deferred=True)
class _Participant:
    """The engine's handle on one Python participant; one per participant, reused by every run."""

    def __init__(self, bridge: TccBridge, spec: ParticipantSpec) -> None:
        self._bridge = bridge
        self._id = spec.participant_id
        self._j = bridge._j
        self._java_id = JString(self._id)  # converted once, for every phase's future

    @_override
    def tryPhase(self, _input: Any, ctx: Any) -> Any:
        return self._call(TRY, ctx)

    @_override
    def confirmPhase(self, _token: Any, ctx: Any) -> Any:
        return self._call(CONFIRM, ctx)

    @_override
    def cancelPhase(self, _token: Any, ctx: Any) -> Any:
        return self._call(CANCEL, ctx)

    def _call(self, phase: str, ctx: Any) -> Any:
        future = self._j.StepFuture.forParticipant(ctx, self._java_id)
        try:
            run = self._bridge.runs[str(ctx.getVariable(self._j.RUN_VARIABLE))]
            if phase != TRY and run.is_settled(self._id):
                return self._j.JUST_TOKEN
            # Never null: the engine leaves a participant whose try completes empty in TRYING.
            run.start_phase(self._id, phase, completer(future, self._j.TOKEN))
        except Exception as exc:  # never throw into the engine
            fail(future, exc)
        return future.mono()


def _engine_error(value: Any, error: Any) -> Any:
    """The engine's own failure hidden in a result, if any.

    A cancelled run always names the participant whose try failed; without one, the engine itself
    failed (it then ran its cancel phase and reported the error as a result).
    """
    if error is None and value is not None and not value.isSuccess():
        if value.getFailedParticipantId() is None:
            return value.getError()
    return error
