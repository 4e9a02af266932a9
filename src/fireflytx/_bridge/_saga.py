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
import weakref
from typing import Any

from jpype import JClass, JImplements, JOverride

from .._definition import SagaSpec, StepSpec
from .._saga_run import SagaRun
from ..config import CompensationPolicy
from ..errors import DefinitionError
from ._calls import CompletionListener, completer
from ._errors import map_java_errors, to_python
from ._facade import facade
from ._protocol import JavaObject

_P = "org.fireflyframework.transactional."
_ids = itertools.count(1)


class _Java:
    """Java classes, resolved once."""

    def __init__(self) -> None:
        self.facade = facade()
        self.StepInputs = JClass(_P + "saga.engine.StepInputs")
        self.SagaRuns = JClass("dev.fireflytx.bridge.SagaRuns")
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
        self._engines: dict[CompensationPolicy, JavaObject] = {}
        self._definitions: dict[str, tuple[SagaSpec, JavaObject]] = {}
        # Keyed by strings: numbers passed from Java into Python leak in JPype 1.7.1 (#1379).
        self.runs: dict[str, SagaRun] = {}
        self._completion_listener = CompletionListener(self.runs)

    def _engine(self, policy: CompensationPolicy) -> JavaObject:
        engine = self._engines.get(policy)
        if engine is None:
            with map_java_errors():
                engine = self._j.facade.sagaEngine(policy.value)
            self._engines[policy] = engine
        return engine

    def register(self, spec: SagaSpec) -> JavaObject:
        """Translate ``spec`` into an engine ``SagaDefinition`` (cached by name, replaced on change).

        The step proxies the definition holds reach this bridge only through a weak reference:
        Java keeps a proxy's Python object alive for as long as Java holds the proxy, so a strong
        reference back would make a cycle across the two heaps that neither collector can see,
        and every stopped engine would stay in memory with its definitions.
        """
        known = self._definitions.get(spec.name)
        if known is not None and known[0] is spec:
            return known[1]
        facade = self._j.facade
        bridge = weakref.proxy(self)
        with map_java_errors():
            definition = facade.saga(spec.name, spec.layer_concurrency)
            for step in spec.steps:
                compensation = step.compensation
                facade.addStep(
                    definition,
                    step.step_id,
                    step.depends_on,
                    step.retry,
                    step.backoff_ms,
                    # fireflytx times attempts itself, from when they start running (see _core._run):
                    # the engine's timer would race a result arriving at the limit and drop it.
                    0,
                    step.idempotency_key,
                    step.jitter,
                    step.jitter_factor,
                    compensation.method_name if compensation else None,
                    compensation.backoff_ms if compensation else 0,
                    compensation.critical if compensation else False,
                    _StepStarter(bridge, step),
                    None,
                )
            errors = [str(error) for error in facade.validate(definition)]
        if errors:
            raise DefinitionError(f"saga {spec.name!r}", errors)
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
