"""The seed guide's order-fulfillment saga and an order-placement TCC, against in-memory services."""

from __future__ import annotations

import asyncio
import itertools
from typing import Annotated

from pydantic import BaseModel

from ._markers import FromStep
from ._saga._context import SagaContext
from ._saga._decorators import compensation_step, saga, saga_step
from ._tcc._context import TccContext
from ._tcc._decorators import cancel_method, confirm_method, tcc, tcc_participant, try_method

__all__ = [
    "CardHolds",
    "Carrier",
    "Inventory",
    "Order",
    "OrderFulfillmentSaga",
    "OrderPlacementTcc",
    "Payments",
    "Warehouse",
]


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
        return {
            "order_id": order.order_id,
            "transaction_id": payment["transaction_id"],
            "status": "confirmed",
        }


class CardHolds:
    """Card authorisations: held by a try, then captured or released; card 0000 is declined."""

    def __init__(self) -> None:
        self.held: dict[str, float] = {}
        self.captured: dict[str, float] = {}
        self._ids = itertools.count(1)

    def authorise(self, card: str, amount: float) -> str:
        if card == "0000":
            raise PermissionError(f"card ending {card} was declined")
        auth_id = f"AUTH-{next(self._ids)}"
        self.held[auth_id] = amount
        return auth_id

    def capture(self, auth_id: str) -> None:
        if auth_id in self.held:
            self.captured[auth_id] = self.held.pop(auth_id)

    def release(self, auth_id: str) -> None:
        self.held.pop(auth_id, None)


class Warehouse:
    """Stock levels; a try holds units, confirm ships them, cancel puts them back."""

    def __init__(self, stock: dict[str, int]) -> None:
        self.stock = dict(stock)
        self.held: dict[str, list[str]] = {}
        self._ids = itertools.count(1)

    def hold(self, items: list[str]) -> str:
        short = sorted({item for item in items if self.stock.get(item, 0) < items.count(item)})
        if short:
            raise LookupError(f"out of stock: {', '.join(short)}")
        for item in items:
            self.stock[item] -= 1
        hold_id = f"STOCK-{next(self._ids)}"
        self.held[hold_id] = list(items)
        return hold_id

    def commit(self, hold_id: str) -> None:
        self.held.pop(hold_id, None)

    def release(self, hold_id: str) -> None:
        for item in self.held.pop(hold_id, []):
            self.stock[item] += 1


class Carrier:
    """Shipping slots: booked tentatively, then confirmed or cancelled."""

    def __init__(self) -> None:
        self.tentative: dict[str, str] = {}
        self.confirmed: dict[str, str] = {}
        self._ids = itertools.count(1)

    def book(self, order_id: str) -> str:
        booking_id = f"SHIP-{next(self._ids)}"
        self.tentative[booking_id] = order_id
        return booking_id

    def confirm(self, booking_id: str) -> None:
        if booking_id in self.tentative:
            self.confirmed[booking_id] = self.tentative.pop(booking_id)

    def cancel(self, booking_id: str) -> None:
        self.tentative.pop(booking_id, None)


CARDS = CardHolds()
WAREHOUSE = Warehouse({"book": 5, "lamp": 2, "desk": 0})
CARRIER = Carrier()


@tcc("order-placement", timeout_ms=5000)
class OrderPlacementTcc:
    """Hold the payment, reserve the stock, book shipping; then commit all or release all."""

    @tcc_participant("payment", order=1)
    class Payment:
        """Authorise the card; capture on confirm, release on cancel."""

        @try_method
        async def authorise(self, order: Order) -> dict[str, str]:
            await asyncio.sleep(0.01)
            return {"auth_id": CARDS.authorise(order.card, order.total)}

        @confirm_method
        async def capture(self, auth: dict[str, str]) -> None:
            CARDS.capture(auth["auth_id"])

        @cancel_method
        async def release(self, auth: dict[str, str] | None) -> None:
            if auth is not None:
                CARDS.release(auth["auth_id"])

    @tcc_participant("inventory", order=2)
    class Inventory:
        """Hold the stock; ship it on confirm, put it back on cancel."""

        @try_method
        def reserve(self, order: Order) -> dict[str, str]:
            return {"hold_id": WAREHOUSE.hold(order.items)}

        @confirm_method
        def commit(self, hold: dict[str, str]) -> None:
            WAREHOUSE.commit(hold["hold_id"])

        @cancel_method
        def release(self, hold: dict[str, str] | None) -> None:
            if hold is not None:  # None: this participant's own try failed, nothing is held
                WAREHOUSE.release(hold["hold_id"])

    @tcc_participant("shipping", order=3)
    class Shipping:
        """Book a slot tentatively; confirm or cancel it with the carrier."""

        @try_method
        async def book(self, order: Order, ctx: TccContext) -> dict[str, str]:
            ctx.set_data("paid_with", ctx.get_try_result("payment")["auth_id"])
            return {"booking_id": CARRIER.book(order.order_id)}

        @confirm_method
        async def confirm(self, booking: dict[str, str]) -> None:
            CARRIER.confirm(booking["booking_id"])

        @cancel_method
        async def cancel(self, booking: dict[str, str] | None) -> None:
            if booking is not None:
                CARRIER.cancel(booking["booking_id"])
