"""Order placement as a TCC: hold the payment, reserve the stock, book the shipment; or release them all.

The seed guide's TCC, with both participant styles side by side: payment is a nested
``@tcc_participant`` class, stock and shipping are ``try_`` / ``confirm_`` / ``cancel_`` methods of the
TCC class itself. Each participant picks its own part of the order with ``input=``, and its try
parameter's type converts that part (``Card``, ``StockRequest``). The services are in-memory
stand-ins, so the example runs anywhere.

Run it:                python examples/order_tcc.py
See its shape:         fireflytx visualize examples/order_tcc.py:OrderTcc
Run it from the CLI:   fireflytx run examples/order_tcc.py:OrderTcc --input \\
                           '{"payment": {"card": "4242", "amount": 30}, "stock": {"sku": "book", "qty": 1},
                             "address": "1 Main St"}'
Make stock run out:    ... '{"payment": {"card": "4242", "amount": 30}, "stock": {"sku": "desk", "qty": 9},
                             "address": "1 Main St"}'
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from pydantic import BaseModel

from fireflytx import TccEngine, TccInputs, cancel_method, confirm_method, tcc, tcc_participant, try_method


class Card(BaseModel):
    card: str
    amount: float


class StockRequest(BaseModel):
    sku: str
    qty: int


class Payments:
    """Holds then captures or releases amounts, in memory."""

    def __init__(self) -> None:
        self.held: dict[str, float] = {}
        self.captured: dict[str, float] = {}
        self._ids = itertools.count(1)

    def hold(self, card: Card) -> str:
        hold_id = f"HOLD-{next(self._ids)}"
        self.held[hold_id] = card.amount
        return hold_id

    def capture(self, hold_id: str) -> None:
        self.captured[hold_id] = self.held.pop(hold_id)

    def release(self, hold_id: str) -> None:
        self.held.pop(hold_id, None)


class Warehouse:
    """Stock counts; a reservation takes items aside until it is committed or released."""

    def __init__(self) -> None:
        self.on_hand = {"book": 5, "desk": 2}
        self.reserved: dict[str, tuple[str, int]] = {}
        self._ids = itertools.count(1)

    async def reserve(self, request: StockRequest) -> str:
        await asyncio.sleep(0.01)
        if self.on_hand.get(request.sku, 0) < request.qty:
            left = self.on_hand.get(request.sku, 0)
            raise LookupError(f"only {left} {request.sku} left, {request.qty} asked")
        self.on_hand[request.sku] -= request.qty
        reservation_id = f"RES-{next(self._ids)}"
        self.reserved[reservation_id] = (request.sku, request.qty)
        return reservation_id

    async def commit(self, reservation_id: str) -> None:
        self.reserved.pop(reservation_id)

    async def release(self, reservation_id: str) -> None:
        sku, qty = self.reserved.pop(reservation_id)
        self.on_hand[sku] += qty


PAYMENTS = Payments()
WAREHOUSE = Warehouse()
SHIPMENTS: dict[str, str] = {}


@tcc("order-placement-tcc", timeout_ms=10_000)
class OrderTcc:
    """Place an order: every service reserves first, and all commit or all release."""

    @tcc_participant("payment", order=1, input=lambda order: order["payment"])
    class PaymentParticipant:
        @try_method(timeout_ms=5_000)
        def try_payment(self, card: Card) -> str:
            return PAYMENTS.hold(card)

        @confirm_method
        def confirm_payment(self, hold_id: str) -> None:
            PAYMENTS.capture(hold_id)

        @cancel_method
        def cancel_payment(self, hold_id: str | None) -> None:
            if hold_id is not None:  # None: this participant's own try failed, nothing is held
                PAYMENTS.release(hold_id)

    # Method style: one OrderTcc instance per run serves stock and shipping.
    @tcc_participant("stock", order=2, input=lambda order: order["stock"])
    @try_method(retry=1)
    async def try_stock(self, request: StockRequest) -> str:
        return await WAREHOUSE.reserve(request)

    @confirm_method
    async def confirm_stock(self, reservation_id: str) -> None:
        await WAREHOUSE.commit(reservation_id)

    @cancel_method
    async def cancel_stock(self, reservation_id: str | None) -> None:
        if reservation_id is not None:
            await WAREHOUSE.release(reservation_id)

    @tcc_participant("shipping", order=3, input=lambda order: order["address"])
    @try_method
    def try_shipping(self, address: str) -> str:
        return f"SLOT-{len(SHIPMENTS) + 1} to {address}"

    @confirm_method
    def confirm_shipping(self, slot: str) -> None:
        SHIPMENTS[slot] = "booked"

    @cancel_method
    def cancel_shipping(self, slot: str | None) -> None:
        if slot is not None:
            SHIPMENTS.pop(slot, None)


@tcc("restock")
class Restock:
    """The other way to give participants their own input: a ``TccInputs`` entry each."""

    @try_method
    def try_pay_supplier(self, card: Card) -> str:
        return PAYMENTS.hold(card)

    @confirm_method
    def confirm_pay_supplier(self, hold_id: str) -> None:
        PAYMENTS.capture(hold_id)

    @cancel_method
    def cancel_pay_supplier(self, hold_id: str | None) -> None:
        if hold_id is not None:
            PAYMENTS.release(hold_id)

    @try_method
    def try_receive(self, request: StockRequest) -> StockRequest:
        return request

    @confirm_method
    def confirm_receive(self, request: StockRequest) -> None:
        WAREHOUSE.on_hand[request.sku] = WAREHOUSE.on_hand.get(request.sku, 0) + request.qty

    @cancel_method
    def cancel_receive(self, request: StockRequest | None) -> None: ...


def order(sku: str, qty: int) -> dict[str, Any]:
    payment = {"card": "4242", "amount": 30}
    return {"payment": payment, "stock": {"sku": sku, "qty": qty}, "address": "1 Main St"}


async def main() -> None:
    async with TccEngine() as engine:
        placed = await engine.execute(OrderTcc, order("book", 1))
        print(placed, f"captured: {PAYMENTS.captured}", f"on hand: {WAREHOUSE.on_hand}", sep="\n")
        refused = await engine.execute(OrderTcc, order("desk", 9))
        print(
            refused,
            f"failed participant: {refused.failed_participant}",
            f"still held: {PAYMENTS.held}, on hand: {WAREHOUSE.on_hand}",
            sep="\n",
        )
        restocked = await engine.execute(
            Restock, TccInputs(pay_supplier=Card(card="9999", amount=80), receive={"sku": "desk", "qty": 3})
        )
        print(restocked, f"on hand: {WAREHOUSE.on_hand}", sep="\n")


if __name__ == "__main__":
    asyncio.run(main())
