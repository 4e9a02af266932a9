"""Numbers Java cannot hold and ids UTF-8 cannot encode are refused where they are declared."""

from __future__ import annotations

import pytest

from fireflytx import (
    DefinitionError,
    cancel_method,
    compensation_step,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)
from fireflytx._limits import MAX_INT, MAX_MS, MAX_RETRY

LONE = "step-\ud800"


def test_a_saga_with_numbers_java_cannot_hold_lists_every_one() -> None:
    with pytest.raises(DefinitionError) as caught:

        @saga("too-big", layer_concurrency=2**31)
        class TooBig:
            @saga_step("a", retry=2**31, timeout_ms=2**63, backoff_ms=10**20)
            def a(self) -> None: ...

            @compensation_step("a", retry=True, timeout_ms=-1, backoff_ms=2**40)
            def undo_a(self) -> None: ...

    problems = caught.value.problems
    assert any("retry must be an int >= 0 and at most 2_147_483_646" in p for p in problems)
    assert any("timeout_ms must be an int >= 0 and at most 1_000_000_000_000 ms" in p for p in problems)
    assert any("backoff_ms" in p and "100_000_000_000_000_000_000" in p for p in problems)
    assert any("undo_a: retry must be an int >= 0, got True" in p for p in problems)
    assert any("undo_a: timeout_ms" in p and "got -1" in p for p in problems)
    assert any("undo_a: backoff_ms" in p for p in problems)
    assert any("layer_concurrency must be an int >= 0 and at most 2_147_483_647" in p for p in problems)
    assert len(problems) == 7


def test_ids_with_lone_surrogates_are_refused_with_the_fix() -> None:
    with pytest.raises(DefinitionError) as caught:

        @saga("name-\udfff")
        class Surrogates:
            @saga_step(LONE)
            def a(self) -> None: ...

            @saga_step("b", depends_on=[LONE])
            def b(self) -> None: ...

    problems = caught.value.problems
    assert any("the saga's name" in p and "cannot be encoded as UTF-8" in p for p in problems)
    assert any(p.startswith("a: step id") and "lone surrogate at index 5" in p for p in problems)
    assert any(p.startswith("b: each id in depends_on") for p in problems)


def test_a_tcc_with_numbers_java_cannot_hold_lists_every_one() -> None:
    with pytest.raises(DefinitionError) as caught:

        @tcc("tcc-too-big", timeout_ms=2**63)
        class TooBig:
            @tcc_participant("p-\udc00", order=2**31, timeout_ms=10**20)
            class P:
                @try_method(retry=2**31, backoff_ms=10**13)
                def t(self) -> None: ...

                @confirm_method(timeout_ms=False)
                def c(self) -> None: ...

                @cancel_method()
                def x(self) -> None: ...

    text = str(caught.value)
    assert "at most 1_000_000_000_000 ms (0: no limit) or None to inherit, got 9_223" in text
    assert "participant id 'p-\\udc00' cannot be encoded as UTF-8" in text
    assert "order must be an int >= -2147483648 and at most 2_147_483_647" in text
    assert "retry must be an int >= 0 and at most 2_147_483_646" in text
    assert "backoff_ms must be an int >= 0 and at most" in text
    assert "(0: no limit) or None to inherit, got False" in text


def test_the_maxima_themselves_are_accepted() -> None:
    @saga("at-the-limit", layer_concurrency=MAX_INT)
    class AtTheLimit:
        @saga_step("a", retry=MAX_RETRY, timeout_ms=MAX_MS, backoff_ms=MAX_MS)
        def a(self) -> None: ...

        @compensation_step("a", retry=MAX_RETRY, timeout_ms=MAX_MS, backoff_ms=MAX_MS)
        def undo_a(self) -> None: ...

    @tcc("tcc-at-the-limit", timeout_ms=MAX_MS)
    class TccAtTheLimit:
        @tcc_participant("p", order=-MAX_INT - 1)
        class P:
            @try_method(retry=MAX_RETRY, backoff_ms=MAX_MS, timeout_ms=MAX_MS)
            def t(self) -> None: ...

            @confirm_method()
            def c(self) -> None: ...

            @cancel_method()
            def x(self) -> None: ...
