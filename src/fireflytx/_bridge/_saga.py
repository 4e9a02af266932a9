"""Sagas on the Firefly engine: translation and the run itself.

Crossing costs shape this module (see bridge-facts.md and ``_pump``): the engine's step handlers
are Java objects that queue requests on the run's loop pump, so starting an attempt costs no
crossing of its own; values never cross (Python keeps the real results; the engine sees a token);
a run costs one call to start (none on a busy loop, where its start joins the turn's batch) and one
call per loop turn in which any of its steps succeeded.
"""

from __future__ import annotations

import asyncio
import itertools

from jpype import JClass

from .._saga._definition import SagaSpec, StepSpec
from .._saga._run import SagaRun
from ..config import CompensationPolicy
from ..errors import DefinitionError
from ._errors import map_java_errors
from ._facade import facade
from ._protocol import JavaObject
from ._pump import PumpedBridge, Starts

_ids = itertools.count(1)


class _Java:
    """Java classes, resolved once."""

    def __init__(self) -> None:
        self.facade = facade()
        runs = JClass("dev.fireflytx.bridge.SagaRuns")
        self.saga_runs = Starts(runs.start, runs.launcher)
        self.RunPump = JClass("dev.fireflytx.bridge.RunPump")


_java: _Java | None = None


def java() -> _Java:
    """The resolved classes (the JVM must be running)."""
    global _java
    if _java is None:
        _java = _Java()
    return _java


class SagaBridge(PumpedBridge):
    """Runs sagas on the engine for one fireflytx ``SagaEngine``."""

    def __init__(self, default_policy: CompensationPolicy) -> None:
        self._j = java()
        super().__init__(self._j.RunPump)
        self._default_policy = default_policy
        self._engines: dict[CompensationPolicy, JavaObject] = {}

    def _engine(self, policy: CompensationPolicy) -> JavaObject:
        engine = self._engines.get(policy)
        if engine is None:
            with map_java_errors():
                engine = self._j.facade.sagaEngine(policy.value)
            self._engines[policy] = engine
        return engine

    def _translate(self, spec: SagaSpec) -> tuple[JavaObject, dict[str, StepSpec]]:
        """An engine ``SagaDefinition`` of ``spec``, and its steps by the unit keys given them."""
        facade = self._j.facade
        keys = [str(next(_ids)) for _ in spec.steps]
        with map_java_errors():
            definition = facade.saga(spec.name, spec.layer_concurrency)
            for key, step in zip(keys, spec.steps, strict=True):
                compensation = step.compensation
                facade.addStep(
                    definition,
                    step.step_id,
                    step.depends_on,
                    # A fan-out step's clones retry one by one (_fan_out_run); the engine must not
                    # run them all again.
                    step.retry if step.fan_out is None else 0,
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
                    key,
                )
            errors = [str(error) for error in facade.validate(definition)]
        if errors:
            raise DefinitionError(f"saga {spec.name!r}", errors)
        return definition, dict(zip(keys, spec.steps, strict=True))

    def start(self, run: SagaRun, policy: CompensationPolicy | None) -> asyncio.Future[None]:
        """Start ``run`` on the engine; the future resolves when the engine's run has ended."""
        _, definition, run.units_by_key = self._registered(run.spec)
        policy = policy or run.spec.compensation_policy or self._default_policy
        engine = self._engine(policy)
        return self._start_run(run, self._j.saga_runs, engine, definition, (policy, run.spec.name))

    def _request(self, run: SagaRun, kind: str, unit: str, key: str) -> None:
        step = run.units_by_key[unit]
        if kind == "S":
            run.start_step(step, key)
        else:
            run.start_compensation(step, key)
