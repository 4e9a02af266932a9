"""Each participant's own input (TccInputs, input= selectors) and method-style participants, run for real."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from fireflytx import (
    InputValidationError,
    TccContext,
    TccEngine,
    TccInputs,
    TccParticipantStatus,
    TccStatus,
    UnknownParticipantError,
    cancel_method,
    confirm_method,
    tcc,
    tcc_participant,
    try_method,
)


@pytest.fixture
async def engine() -> AsyncIterator[TccEngine]:
    async with TccEngine() as running:
        yield running


class Card(BaseModel):
    number: str
    amount: float


@dataclass
class Items:
    skus: list[str]


SEEN: list[tuple[str, Any]] = []


@pytest.fixture(autouse=True)
def _seen() -> None:
    SEEN.clear()


@tcc("selected")
class Selected:
    """Nested and method-style participants, each picking its own part of one order."""

    @tcc_participant("payment", order=1, input=lambda order: order["payment"])
    class Payment:
        @try_method
        def hold(self, card: Card) -> str:
            SEEN.append(("hold", card))
            return f"H-{card.number}"

        @confirm_method
        def capture(self, hold: str) -> None:
            SEEN.append(("capture", hold))

        @cancel_method
        def release(self, hold: str | None) -> None:
            SEEN.append(("release", hold))

    def __init__(self) -> None:
        self.reserved: list[str] = []

    @tcc_participant("inventory", order=2, input=lambda order: order["inventory"])
    @try_method
    async def try_inventory(self, items: Items, ctx: TccContext) -> list[str]:
        SEEN.append(("reserve", items))
        self.reserved.extend(items.skus)
        if "broken" in items.skus:
            raise RuntimeError("no stock")
        return list(self.reserved)

    @confirm_method
    async def confirm_inventory(self, reserved: list[str]) -> None:
        SEEN.append(("commit", reserved))

    @cancel_method
    async def cancel_inventory(self, reserved: list[str] | None) -> None:
        # The same instance as its try: what the try kept on self is still there.
        SEEN.append(("unreserve", (reserved, list(self.reserved))))

    @try_method
    def try_audit(self, order: dict[str, Any]) -> str:
        SEEN.append(("audit", sorted(order)))
        return "logged"

    @confirm_method
    def confirm_audit(self, entry: str) -> None:
        SEEN.append(("audited", (entry, list(self.reserved))))

    @cancel_method
    def cancel_audit(self, entry: str | None) -> None:
        SEEN.append(("unaudit", entry))


ORDER = {"payment": {"number": "4242", "amount": 5}, "inventory": {"skus": ["book"]}, "note": "gift"}


async def test_selectors_give_each_participant_its_part_converted_to_its_type(engine: TccEngine) -> None:
    result = await engine.execute(Selected, ORDER)
    assert result.status is TccStatus.CONFIRMED
    # Tries by order: audit (order 0) first, then payment, then inventory; confirms likewise.
    assert SEEN == [
        ("audit", ["inventory", "note", "payment"]),  # no selector: the whole input
        ("hold", Card(number="4242", amount=5)),
        ("reserve", Items(["book"])),
        ("audited", ("logged", ["book"])),  # the method-style participants share one instance
        ("capture", "H-4242"),
        ("commit", ["book"]),
    ]
    assert list(result.participants) == ["audit", "payment", "inventory"]


async def test_each_run_gets_its_own_tcc_instance(engine: TccEngine) -> None:
    await engine.execute(Selected, ORDER)
    second = await engine.execute(Selected, ORDER)
    assert second.try_result_of("inventory") == ["book"]  # not ["book", "book"]


async def test_a_failed_method_style_try_cancels_it_and_the_earlier_ones_on_the_same_instance(
    engine: TccEngine,
) -> None:
    order = {**ORDER, "inventory": {"skus": ["broken"]}}
    result = await engine.execute(Selected, order)
    assert result.status is TccStatus.CANCELED and result.failed_participant == "inventory"
    assert SEEN[3:] == [
        ("unreserve", (None, ["broken"])),
        ("release", "H-4242"),
        ("unaudit", "logged"),
    ]
    assert result.participants["audit"].status is TccParticipantStatus.CANCELED


async def test_a_selector_that_raises_stops_the_run_naming_the_participant(engine: TccEngine) -> None:
    with pytest.raises(InputValidationError) as info:
        await engine.execute(Selected, {"payment": {"number": "1", "amount": 1}})
    error = info.value
    assert (error.kind, error.saga_name, error.step_id) == ("tcc", "selected", "inventory")
    assert "KeyError" in str(error) and isinstance(error.__cause__, KeyError)
    assert SEEN == []  # nothing ran
    assert pickle.loads(pickle.dumps(error)).step_id == "inventory"


async def test_a_selected_part_that_does_not_fit_the_try_type_is_rejected_before_any_try(
    engine: TccEngine,
) -> None:
    with pytest.raises(InputValidationError) as info:
        await engine.execute(Selected, {**ORDER, "payment": {"number": "1"}})
    assert info.value.step_id == "payment" and "Card" in str(info.value)
    assert SEEN == []


@tcc("by-entry")
class ByEntry:
    @tcc_participant("payment", order=1)
    class Payment:
        @try_method
        def hold(self, card: Card) -> str:
            return f"H-{card.number}"

        @confirm_method
        def capture(self, hold: str) -> None: ...

        @cancel_method
        def release(self, hold: str | None) -> None: ...

    @try_method
    def try_notify(self, address: str | None) -> str:
        SEEN.append(("notify", address))
        return "sent" if address else "nobody"

    @confirm_method
    def confirm_notify(self, sent: str) -> None: ...

    @cancel_method
    def cancel_notify(self, sent: str | None) -> None: ...


async def test_tcc_inputs_give_each_participant_its_entry_and_none_when_left_out(engine: TccEngine) -> None:
    result = await engine.execute(ByEntry, TccInputs({"payment": {"number": "7", "amount": 2}}, notify="a@b"))
    assert result.status is TccStatus.CONFIRMED
    assert result.try_result_of("payment") == "H-7" and SEEN == [("notify", "a@b")]
    SEEN.clear()
    result = await engine.execute(ByEntry, TccInputs(payment=Card(number="8", amount=1)))
    assert result.try_result_of("payment") == "H-8" and SEEN == [("notify", None)]


async def test_tcc_inputs_naming_an_unknown_participant_lists_the_known_ones(engine: TccEngine) -> None:
    with pytest.raises(UnknownParticipantError) as info:
        await engine.execute(ByEntry, TccInputs(paymnt={"number": "7", "amount": 2}))
    error = info.value
    assert isinstance(error, InputValidationError)
    assert error.step_id == "paymnt" and error.known == ("notify", "payment")
    assert "'paymnt'" in str(error) and "'notify', 'payment'" in str(error)
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.known, str(again)) == (UnknownParticipantError, error.known, str(error))
    assert SEEN == []


async def test_tcc_inputs_for_a_tcc_whose_participants_select_is_refused(engine: TccEngine) -> None:
    with pytest.raises(InputValidationError, match="drop input= from this participant") as info:
        await engine.execute(Selected, TccInputs(payment={"number": "1", "amount": 1}))
    assert info.value.step_id == "payment"
    assert SEEN == []


async def test_a_missing_entry_for_a_typed_try_is_an_input_error(engine: TccEngine) -> None:
    with pytest.raises(InputValidationError) as info:
        await engine.execute(ByEntry, TccInputs(notify="x"))
    assert info.value.step_id == "payment" and "Card" in str(info.value)
    assert SEEN == []
