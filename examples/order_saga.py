"""Order fulfillment across three services: validate the order, reserve stock, charge the card.

The seed guide's microservices-orchestration pattern, with in-memory fakes standing in for the
order, inventory and payment services (each call sleeps a little, as a network call would).

Run it:                python examples/order_saga.py
See its shape:         fireflytx visualize examples/order_saga.py:OrderFulfillmentSaga --format mermaid
Run it from the CLI:   fireflytx run examples/order_saga.py:OrderFulfillmentSaga \\
                           --input '{"order_id": "A-1", "items": ["book"], "total": 30}'
Make payment fail:     ... --input '{"order_id": "A-2", "items": ["desk"], "total": 5000}'
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from fireflytx import SagaEngine, compensation_step, saga, saga_step

NETWORK_DELAY_S = 0.01


class OrderService:
    """Accepts orders that list at least one item and a positive total."""

    async def validate(self, order: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(NETWORK_DELAY_S)
        if not order.get("items"):
            raise ValueError(f"order {order.get('order_id')} lists no items")
        if float(order.get("total", 0)) <= 0:
            raise ValueError(f"order {order.get('order_id')} has no positive total")
        return {"order_id": order["order_id"], "valid": True}


class InventoryService:
    """Holds reservations in memory; releasing one returns its items."""

    def __init__(self) -> None:
        self.reserved: dict[str, list[str]] = {}
        self._ids = itertools.count(1)

    async def reserve(self, items: list[str]) -> dict[str, str]:
        await asyncio.sleep(NETWORK_DELAY_S)
        reservation_id = f"RES-{next(self._ids)}"
        self.reserved[reservation_id] = list(items)
        return {"reservation_id": reservation_id}

    async def release(self, reservation_id: str) -> None:
        await asyncio.sleep(NETWORK_DELAY_S)
        self.reserved.pop(reservation_id, None)


class PaymentService:
    """Charges in memory; anything above the credit limit is declined."""

    CREDIT_LIMIT = 1000.0

    def __init__(self) -> None:
        self.charged: dict[str, float] = {}
        self._ids = itertools.count(1)

    async def charge(self, amount: float) -> dict[str, str]:
        await asyncio.sleep(NETWORK_DELAY_S)
        if amount > self.CREDIT_LIMIT:
            raise PermissionError(
                f"charge of {amount:.2f} exceeds the credit limit of {self.CREDIT_LIMIT:.2f}"
            )
        transaction_id = f"TX-{next(self._ids)}"
        self.charged[transaction_id] = amount
        return {"transaction_id": transaction_id}

    async def refund(self, transaction_id: str) -> None:
        await asyncio.sleep(NETWORK_DELAY_S)
        self.charged.pop(transaction_id, None)


ORDERS = OrderService()
INVENTORY = InventoryService()
PAYMENTS = PaymentService()


@saga("order-fulfillment")
class OrderFulfillmentSaga:
    """Orchestrate order fulfillment across the order, inventory and payment services."""

    @saga_step("validate-order", retry=3, timeout_ms=5000)
    async def validate_order(self, order_data: dict[str, Any]) -> dict[str, Any]:
        return await ORDERS.validate(order_data)

    @saga_step("reserve-inventory", depends_on=["validate-order"])
    async def reserve_inventory(self, order_data: dict[str, Any]) -> dict[str, str]:
        return await INVENTORY.reserve(order_data["items"])

    @compensation_step("reserve-inventory")
    async def release_inventory(self, reservation_data: dict[str, str]) -> None:
        await INVENTORY.release(reservation_data["reservation_id"])

    @saga_step("charge-payment", depends_on=["reserve-inventory"])
    async def charge_payment(self, order_data: dict[str, Any]) -> dict[str, str]:
        return await PAYMENTS.charge(float(order_data["total"]))

    @compensation_step("charge-payment")
    async def refund_payment(self, payment_data: dict[str, str]) -> None:
        await PAYMENTS.refund(payment_data["transaction_id"])


async def main() -> None:
    async with SagaEngine() as engine:
        ok = await engine.execute(OrderFulfillmentSaga, {"order_id": "A-1", "items": ["book"], "total": 30})
        print(ok, f"charged: {PAYMENTS.charged}", f"reserved: {INVENTORY.reserved}", sep="\n")
        failed = await engine.execute(
            OrderFulfillmentSaga, {"order_id": "A-2", "items": ["desk"], "total": 5000}
        )
        print(
            failed,
            f"failed at {failed.failed_step}: {failed.error}",
            f"reserved: {INVENTORY.reserved}",
            sep="\n",
        )


if __name__ == "__main__":
    asyncio.run(main())
