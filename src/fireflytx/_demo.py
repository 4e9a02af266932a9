"""The seed guide's order-fulfillment saga, against in-memory stand-ins for the services."""

from __future__ import annotations

import asyncio
import itertools
from typing import Annotated

from pydantic import BaseModel

from ._context import FromStep, SagaContext
from ._decorators import compensation_step, saga, saga_step

__all__ = ["Inventory", "Order", "OrderFulfillmentSaga", "Payments"]


class Order(BaseModel):
    """An order as the demo receives it."""

    order_id: str
    items: list[str]
    total: float
    card: str = "4242"


class Inventory:
    """Reservations held in memory."""

    def __init__(self) -> None:
        self.reserved: dict[str, list[str]] = {}
        self._ids = itertools.count(1)

    def reserve(self, items: list[str]) -> str:
        reservation_id = f"RES-{next(self._ids)}"
        self.reserved[reservation_id] = list(items)
        return reservation_id

    def release(self, reservation_id: str) -> None:
        self.reserved.pop(reservation_id, None)


class Payments:
    """Charges held in memory; card 0000 is declined."""

    def __init__(self) -> None:
        self.charged: dict[str, float] = {}
        self._ids = itertools.count(1)

    def charge(self, card: str, amount: float) -> str:
        if card == "0000":
            raise PermissionError(f"card ending {card} was declined")
        transaction_id = f"TX-{next(self._ids)}"
        self.charged[transaction_id] = amount
        return transaction_id

    def refund(self, transaction_id: str) -> None:
        self.charged.pop(transaction_id, None)


INVENTORY = Inventory()
PAYMENTS = Payments()


@saga("order-fulfillment")
class OrderFulfillmentSaga:
    """Validate, then reserve stock and charge the card, then confirm; undo on failure."""

    @saga_step("validate-order", retry=3, timeout_ms=5000)
    async def validate_order(self, order: Order) -> dict[str, object]:
        await asyncio.sleep(0.01)
        if not order.items:
            raise ValueError("an order needs at least one item")
        return {"order_id": order.order_id, "valid": True}

    @saga_step("reserve-inventory", depends_on=["validate-order"])
    async def reserve_inventory(self, order: Order) -> dict[str, str]:
        await asyncio.sleep(0.02)
        return {"reservation_id": INVENTORY.reserve(order.items)}

    @compensation_step("reserve-inventory")
    async def release_inventory(self, reservation: dict[str, str]) -> None:
        INVENTORY.release(reservation["reservation_id"])

    @saga_step("charge-payment", depends_on=["validate-order"], retry=1, backoff_ms=50)
    def charge_payment(self, order: Order) -> dict[str, str]:
        return {"transaction_id": PAYMENTS.charge(order.card, order.total)}

    @compensation_step("charge-payment")
    def refund_payment(self, payment: dict[str, str]) -> None:
        PAYMENTS.refund(payment["transaction_id"])

    @saga_step("confirm-order", depends_on=["reserve-inventory", "charge-payment"])
    async def confirm_order(
        self,
        order: Order,
        ctx: SagaContext,
        payment: Annotated[dict[str, str], FromStep("charge-payment")],
    ) -> dict[str, str]:
        ctx.set_data("confirmation", f"CONF-{order.order_id}")
        return {"order_id": order.order_id, "transaction_id": payment["transaction_id"], "status": "confirmed"}
