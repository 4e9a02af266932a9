"""An engine remembers each class's effective spec: what a class carries now is what runs."""

from __future__ import annotations

import pytest

from fireflytx import (
    DefinitionError,
    SagaEngine,
    TccEngine,
    cancel_method,
    confirm_method,
    saga,
    saga_step,
    tcc,
    try_method,
)


@saga("per-class-parent")
class Parent:
    @saga_step("only")
    async def only(self) -> str:
        return "parent"


class Undecorated(Parent):
    """Inherits the parent's spec attribute but was not decorated itself."""


async def test_a_subclass_that_was_not_decorated_is_refused_after_its_parent_ran(engine: SagaEngine) -> None:
    assert (await engine.execute(Parent)).is_success
    with pytest.raises(DefinitionError, match="subclasses must be decorated again"):
        await engine.execute(Undecorated)
    with pytest.raises(DefinitionError, match="subclasses must be decorated again"):
        await engine.execute(Undecorated())


async def test_a_class_decorated_again_runs_as_its_new_spec_says(engine: SagaEngine) -> None:
    class Again:
        @saga_step("only")
        async def only(self) -> str:
            return "again"

    first = saga("per-class-first")(Again)
    assert (await engine.execute(first)).saga_name == "per-class-first"
    second = saga("per-class-second")(Again)
    assert (await engine.execute(second)).saga_name == "per-class-second"
    assert (await engine.execute(Again())).saga_name == "per-class-second"


async def test_a_tcc_class_is_refused_by_a_saga_engine_after_a_tcc_engine_ran_it(engine: SagaEngine) -> None:
    @tcc("per-class-tcc")
    class Pair:
        @try_method
        async def try_p(self) -> None: ...

        @confirm_method
        async def confirm_p(self) -> None: ...

        @cancel_method
        async def cancel_p(self) -> None: ...

    async with TccEngine() as tcc_engine:
        assert (await tcc_engine.execute(Pair)).is_success
    with pytest.raises(DefinitionError, match="is a TCC, not a saga: run it with TccEngine"):
        await engine.execute(Pair)
