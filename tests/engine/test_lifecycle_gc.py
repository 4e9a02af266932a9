"""An engine raises Python's young collection threshold while it runs and puts it back when it stops."""

from __future__ import annotations

import gc

import pytest

from fireflytx import FireflyTxSettings, SagaEngine, saga, saga_step

pytestmark = pytest.mark.usefixtures("no_gc_holder")


@saga("gc-paced")
class Paced:
    @saga_step("a")
    async def a(self) -> int:
        return 1


async def test_an_engine_raises_generation_0_while_it_runs_and_restores_it_after() -> None:
    first = await SagaEngine().initialize()
    second = await SagaEngine().initialize()
    assert gc.get_threshold() == (10_000, 10, 10)
    assert (await first.execute(Paced)).is_success
    await first.shutdown()
    assert gc.get_threshold() == (10_000, 10, 10)  # the other engine still runs
    await second.shutdown()
    assert gc.get_threshold() == (700, 10, 10)
    await first.initialize()  # started again: raised again
    assert gc.get_threshold() == (10_000, 10, 10)
    await first.shutdown()
    assert gc.get_threshold() == (700, 10, 10)


async def test_python_gc_threshold_none_leaves_python_alone() -> None:
    engine = await SagaEngine(FireflyTxSettings(python_gc_threshold=None)).initialize()
    assert gc.get_threshold() == (700, 10, 10)
    await engine.shutdown()
    assert gc.get_threshold() == (700, 10, 10)
