"""Sagas on the Firefly engine: translation, step proxies and the run itself.

Crossing costs shape this module (see bridge-facts.md): one proxy per step and one listener per
engine, created once and reused; values never cross (the engine sees a token, Python keeps the
real results); a step's continuation runs on the thread that completed it, so no thread hop is
added; and each call into Python happens on a Python-owned thread (the event loop, a worker, or a
timer thread started by ``_threads``).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from jpype import JClass, JImplements, JOverride

from .._definition import SagaSpec, StepSpec
from .._saga_run import SagaRun
from ..config import CompensationPolicy
from ..errors import DefinitionError
from ._calls import CompletionListener, completer
from ._errors import map_java_errors, to_python

_P = "org.fireflyframework.transactional."
_ids = itertools.count(1)


class _Java:
    """Java classes, resolved once."""

    def __init__(self) -> None:
        self.SagaDefinition = JClass(_P + "saga.registry.SagaDefinition")
        self.StepDefinition = JClass(_P + "saga.registry.StepDefinition")
        self.SagaEngine = JClass(_P + "saga.engine.SagaEngine")
        self.StepInputs = JClass(_P + "saga.engine.StepInputs")
        self.SagaValidator = JClass(_P + "saga.validation.SagaValidator")
        self.Policy = JClass(_P + "shared.engine.CompensationPolicy")
        self.Duration = JClass("java.time.Duration")
        self.ArrayList = JClass("java.util.ArrayList")
        self.NoOpSagaEvents = JClass("dev.fireflytx.bridge.NoOpSagaEvents")
        self.SagaRuns = JClass("dev.fireflytx.bridge.SagaRuns")
        self.PythonStepHandler = JClass("dev.fireflytx.bridge.PythonStepHandler")
        self.TOKEN = JClass("java.lang.Boolean").TRUE
        # An empty StepInputs has no resolvers to cache, so one instance serves every run.
        self.NO_INPUTS = self.StepInputs.empty()


_java: _Java | None = None


def java() -> _Java:
    """The resolved classes (the JVM must be running)."""
    global _java
    if _java is None:
        _java = _Java()
    return _java


class SagaBridge:
    """Runs sagas on the engine for one fireflytx ``SagaEngine``."""

    def __init__(self, default_policy: CompensationPolicy) -> None:
        self._j = java()
        self._default_policy = default_policy
        self._engines: dict[CompensationPolicy, Any] = {}
        self._definitions: dict[str, tuple[SagaSpec, Any]] = {}
        # Keyed by strings: numbers passed from Java into Python leak in JPype 1.7.1 (#1379).
        self.runs: dict[str, SagaRun] = {}
        self._completion_listener = CompletionListener(self.runs)
        self._events = self._j.NoOpSagaEvents()

    def _engine(self, policy: CompensationPolicy) -> Any:
        engine = self._engines.get(policy)
        if engine is None:
            with map_java_errors():
                engine = self._j.SagaEngine(None, self._events, self._j.Policy.valueOf(policy.value))
            self._engines[policy] = engine
        return engine

    def register(self, spec: SagaSpec) -> Any:
        """Translate ``spec`` into an engine ``SagaDefinition`` (cached by name, replaced on change)."""
        known = self._definitions.get(spec.name)
        if known is not None and known[0] is spec:
            return known[1]
        j = self._j
        with map_java_errors():
            definition = j.SagaDefinition(spec.name, None, None, spec.layer_concurrency)
            for step in spec.steps:
                deps = j.ArrayList()
                for dep in step.depends_on:
                    deps.add(dep)
                java_step = j.StepDefinition(
                    step.step_id,
                    step.compensation.method_name if step.compensation else None,
                    deps,
                    step.retry,
                    j.Duration.ofMillis(step.backoff_ms),
                    # fireflytx times attempts itself, from when they start running (see _core._run):
                    # the engine's timer would race a result arriving at the limit and drop it.
                    j.Duration.ZERO,
                    step.idempotency_key,
                    step.jitter,
                    step.jitter_factor,
                    False,
                    None,
                )
                java_step.handler = self._j.PythonStepHandler(
                    _StepStarter(self, step), step.compensation is not None, None, step.step_id
                )
                if step.compensation is not None:
                    # fireflytx retries and times compensations itself (the engine would retry a
                    # handler's compensation at most once, and only under some policies).
                    java_step.compensationRetry = JClass("java.lang.Integer").valueOf(0)
                    java_step.compensationTimeout = j.Duration.ZERO
                    java_step.compensationBackoff = j.Duration.ofMillis(step.compensation.backoff_ms)
                    java_step.compensationCritical = step.compensation.critical
                definition.steps.put(step.step_id, java_step)
            report = j.SagaValidator.validateSagaDefinition(definition)
            if report.hasErrors():
                raise DefinitionError(f"saga {spec.name!r}", [str(e) for e in report.getErrors()])
        self._definitions[spec.name] = (spec, definition)
        return definition

    def start(self, run: SagaRun, policy: CompensationPolicy | None) -> asyncio.Future[None]:
        """Start ``run`` on the engine; the future resolves when the engine's run has ended."""
        definition = self.register(run.spec)
        engine = self._engine(policy or run.spec.compensation_policy or self._default_policy)
        run_key = str(next(_ids))
        done = run.until_ended()
        self.runs[run_key] = run
        try:
            with map_java_errors():
                self._j.SagaRuns.start(
                    engine,
                    definition,
                    self._j.NO_INPUTS,
                    run.correlation_id,
                    run_key,
                    self._completion_listener,
                )
        except BaseException:
            self.runs.pop(run_key, None)
            raise
        return done

    def error_of(self, run: SagaRun, error: Any) -> BaseException | None:
        """The fireflytx error for what the engine's run ended with (None: it ended normally)."""
        return None if error is None else to_python(error)


@JImplements("dev.fireflytx.bridge.PythonStepHandler$Starter", deferred=True)
class _StepStarter:
    """Python's side of one step's engine handler; one per step, reused by every run.

    The Java ``PythonStepHandler`` creates each attempt's future and reads the run id, so an
    attempt costs one call into Python. Raising here is safe: the handler turns it into an error.
    """

    def __init__(self, bridge: SagaBridge, step: StepSpec) -> None:
        self._bridge = bridge
        self._step = step
        self._token = bridge._j.TOKEN

    @JOverride
    def start(self, run_key: Any, attempt_key: Any, future: Any) -> None:
        self._bridge.runs[str(run_key)].start_step(self._step, completer(future, self._token))

    @JOverride
    def compensate(self, run_key: Any, future: Any) -> None:
        self._bridge.runs[str(run_key)].start_compensation(self._step, completer(future, self._token))
