"""The context a saga's steps share during one run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._context_base import ContextBase
from .._progress import StepView, jsonable

__all__ = ["SagaContext"]


class SagaContext(ContextBase):
    """Data shared by the steps of one saga run.

    A step receives it by declaring a parameter annotated ``SagaContext``. Steps of one layer run at
    the same time, so two steps writing the same key race; each single call here is atomic.
    """

    __slots__ = ("_results",)

    _kind = "saga"
    _units = "steps"

    def __init__(
        self,
        correlation_id: str,
        saga_name: str,
        headers: Mapping[str, str] | None = None,
        results: dict[str, Any] | None = None,
        records: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(correlation_id, saga_name, headers, records)
        self._results: dict[str, Any] = results if results is not None else {}

    @property
    def saga_name(self) -> str:
        """The name given to ``@saga``."""
        return self._name

    def get_result(self, step_id: str, default: Any = None) -> Any:
        """The result of a step that has completed in this run."""
        return self._results.get(step_id, default)

    def step(self, step_id: str) -> StepView:
        """Where step ``step_id`` is now: status, attempts so far and its idempotency keys.

        A fan-out step's clones have views of their own: ``ctx.step("ship#0")``.

        Raises:
            KeyError: the saga has no such step (or the fan-out step has no such clone yet).
        """
        record = self._records.get(step_id) or self._clone(step_id)
        if record is None:
            raise self._unknown("step", step_id)
        return StepView.of(self._correlation_id, step_id, record.attempts, record.compensations)

    def _clone(self, step_id: str) -> Any:
        from ._fan_out import split_clone_id

        split = split_clone_id(step_id)
        clones = [] if split is None else getattr(self._records.get(split[0]), "clones", [])
        return clones[split[1]] if split is not None and split[1] < len(clones) else None

    @property
    def steps(self) -> dict[str, StepView]:
        """Every step's view now, in declaration order; a fan-out step's clones follow it."""
        views = {}
        for step_id, record in list(self._records.items()):
            views[step_id] = StepView.of(self._correlation_id, step_id, record.attempts, record.compensations)
            for clone in getattr(record, "clones", ()):
                views[clone.unit_id] = StepView.of(
                    self._correlation_id, clone.unit_id, clone.attempts, clone.compensations
                )
        return views

    def _progress(self) -> dict[str, Any]:
        progress = {}
        for step_id, view in self.steps.items():
            entry = view.to_dict()
            if step_id in self._results:
                entry["result"] = jsonable(self._results[step_id])
            elif (clone := self._clone(step_id)) is not None and clone.succeeded:
                entry["result"] = jsonable(clone.value)
            progress[step_id] = entry
        return progress

    def __repr__(self) -> str:
        return f"SagaContext(saga={self._name!r}, correlation_id={self._correlation_id!r})"
