"""`fireflytx run`'s live table on a fan-out: one row for the step, counting its clones."""

from __future__ import annotations

import re

from rich.console import Console

from fireflytx import SagaEngine, definition_of, saga, saga_step
from fireflytx.cli._progress import RunProgress


@saga("progress-fan-out")
class Fanned:
    @saga_step("each", fan_out=lambda n: list(range(n)))
    async def each(self, i: int) -> int:
        return i

    @saga_step("after", depends_on=["each"])
    def after(self) -> None: ...


async def test_the_progress_table_counts_a_fan_outs_clones_on_its_row() -> None:
    progress = RunProgress(definition_of(Fanned))
    async with SagaEngine(listeners=[progress]) as engine:
        assert (await engine.execute(Fanned, 7)).is_success
        assert engine.flush_listeners(5)
    assert progress.states() == {"each": "succeeded", "after": "succeeded"}
    console = Console(record=True, width=120, color_system=None)
    console.print(progress)
    assert re.search(r"each\s+succeeded\s+1\s+[\d.]+s\s+7 clones done", console.export_text())
