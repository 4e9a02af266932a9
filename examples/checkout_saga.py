"""A saga of sagas: checkout reserves stock, then runs payment and shipment as sub-sagas.

Run it:                python examples/checkout_saga.py
See its shape:         fireflytx visualize examples/checkout_saga.py:CheckoutSaga
Run it from the CLI:   fireflytx run examples/checkout_saga.py:CheckoutSaga \\
                           --input '{"order_id": "A-1", "amount": 40, "address": "1 Main St"}'
A child fails:         ... --input '{"order_id": "A-2", "amount": 40, "address": "1 Main St", "card": "0000"}'
A later step fails:    ... --input '{"order_id": "A-3", "amount": 40, "address": ""}'

Each child runs on the same engine as its own saga run, under the correlation id
``<checkout id>/<step id>``. A child that fails compensates itself and fails its step; a child
that had succeeded is undone as a whole (its own compensations, newest first) when a later
step of the checkout fails. The services are in-memory stand-ins, so the example runs anywhere.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from pydantic import BaseModel

from fireflytx import (
    FromStep,
    SagaContext,
    SagaEngine,
    SagaResult,
    compensation_step,
    saga,
    saga_step,
    sub_saga,
)


class Order(BaseModel):
    order_id: str
    amount: float
    address: str
    card: str = "4242"


class Charge(BaseModel):
    order_id: str
    amount: float
    card: str


class Parcel(BaseModel):
    order_id: str
    address: str


STOCK: dict[str, str] = {}
CHARGES: dict[str, float] = {}
LABELS: dict[str, str] = {}
JOURNAL: list[str] = []


@saga("card-payment")
class CardPaymentSaga:
    """Authorize the card, then capture the money; card 0000 is declined at capture."""

    @saga_step("authorize")
    async def authorize(self, charge: Charge, ctx: SagaContext) -> str:
        JOURNAL.append(f"authorize {charge.order_id} as {ctx.correlation_id}")
        return f"AUTH-{charge.order_id}"

    @compensation_step("authorize")
    async def void(self, authorization: str) -> None:
        JOURNAL.append(f"void {authorization}")

    @saga_step("capture", depends_on=["authorize"])
    def capture(self, charge: Charge) -> str:
        if charge.card == "0000":
            raise PermissionError("card declined")
        CHARGES[charge.order_id] = charge.amount
        return f"CH-{charge.order_id}"

    @compensation_step("capture")
    def refund(self, charge_id: str) -> None:
        CHARGES.pop(charge_id.removeprefix("CH-"), None)
        JOURNAL.append(f"refund {charge_id}")


@saga("shipment")
class ShipmentSaga:
    """Print a label, then book a courier; an empty address cannot be booked."""

    @saga_step("print-label")
    def print_label(self, parcel: Parcel) -> str:
        LABELS[parcel.order_id] = parcel.address
        return f"LBL-{parcel.order_id}"

    @compensation_step("print-label")
    def void_label(self, label: str) -> None:
        LABELS.pop(label.removeprefix("LBL-"), None)
        JOURNAL.append(f"void label {label}")

    @saga_step("book-courier", depends_on=["print-label"])
    async def book_courier(self, parcel: Parcel) -> str:
        if not parcel.address:
            raise ValueError("no address to send a courier to")
        return f"COURIER-{parcel.order_id}"


@saga("checkout")
class CheckoutSaga:
    """Reserve the stock, pay (a sub-saga), ship (another), then confirm to the customer."""

    @saga_step("reserve-stock")
    async def reserve_stock(self, order: Order) -> str:
        STOCK[order.order_id] = "reserved"
        return f"RES-{order.order_id}"

    @compensation_step("reserve-stock")
    async def release_stock(self, reservation: str) -> None:
        STOCK.pop(reservation.removeprefix("RES-"), None)
        JOURNAL.append(f"release {reservation}")

    @sub_saga("pay", CardPaymentSaga, depends_on=["reserve-stock"])
    def pay(self, order: Order) -> Charge:
        """The payment child's input, built from the checkout's."""
        return Charge(order_id=order.order_id, amount=order.amount, card=order.card)

    @sub_saga("ship", ShipmentSaga, depends_on=["pay"])
    async def ship(self, order: Order) -> Parcel:
        return Parcel(order_id=order.order_id, address=order.address)

    @saga_step("confirm", depends_on=["ship"])
    def confirm(self, order: Order, paid: Annotated[SagaResult, FromStep("pay")]) -> str:
        return f"order {order.order_id} paid with {paid.result_of('capture')}"


async def main() -> None:
    async with SagaEngine() as engine:
        ok = await engine.execute(CheckoutSaga, Order(order_id="A-1", amount=40, address="1 Main St"))
        print(ok, ok.result_of("confirm"), ok.result_of("pay").correlation_id, sep="\n")
        declined = await engine.execute(
            CheckoutSaga, Order(order_id="A-2", amount=40, address="1 Main St", card="0000")
        )
        print(declined, f"failed at {declined.failed_step}: {declined.error}", sep="\n")
        unshippable = await engine.execute(CheckoutSaga, Order(order_id="A-3", amount=40, address=""))
        print(unshippable, f"payment after the undo: {unshippable.result_of('pay').status}", sep="\n")
        print(f"stock held: {STOCK}, charges: {CHARGES}, labels: {LABELS}")
        print(*JOURNAL, sep="\n")


if __name__ == "__main__":
    asyncio.run(main())
