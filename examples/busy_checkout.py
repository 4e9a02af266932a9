"""A checkout under load: a thousand orders at once through an engine that runs at most 50 at a time.

Run it:                python examples/busy_checkout.py
See its shape:         fireflytx visualize examples/busy_checkout.py:CheckoutSaga
Run one order:         fireflytx run examples/busy_checkout.py:CheckoutSaga --input '{"order_id": "O-1"}'

Two things to watch:

- back-pressure: ``SagaEngine(max_in_flight=50)`` admits 50 runs; the other callers wait in line,
  first come first served, and cost a few kilobytes each instead of a run each
  (``when_full="fail"`` would refuse them at once with ``EngineFullError`` instead);
- the context: the shipping step asks ``ctx.step(...)`` how the payment went (how many attempts
  the flaky gateway needed) and hands the warehouse the idempotency key of its own step, and the
  last step stores ``ctx.to_dict()``, a JSON-ready account of the run, as an audit record.

The services are in-memory stand-ins, so the example runs anywhere.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from pydantic import BaseModel

from fireflytx import SagaContext, SagaEngine, compensation_step, saga, saga_step


class Order(BaseModel):
    order_id: str
    items: int = 1


class Gateway:
    """Charges orders; every third order's first charge attempt times out at the gateway."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    async def charge(self, order: Order) -> str:
        self.calls[order.order_id] += 1
        await asyncio.sleep(0.001)
        if self.calls[order.order_id] == 1 and int(order.order_id.removeprefix("O-")) % 3 == 0:
            raise TimeoutError("gateway did not answer")
        return f"CH-{order.order_id}"


class Warehouse:
    """Ships each order once, whatever the number of calls: it deduplicates on the idempotency key."""

    def __init__(self) -> None:
        self.shipments: dict[str, str] = {}

    async def ship(self, key: str, order: Order) -> str:
        await asyncio.sleep(0.001)
        return self.shipments.setdefault(key, f"SHIP-{order.order_id}")


GATEWAY = Gateway()
WAREHOUSE = Warehouse()
AUDIT: list[dict[str, object]] = []


@saga("busy-checkout")
class CheckoutSaga:
    """Charge, ship, then record the run."""

    @saga_step("charge", retry=3, backoff_ms=5)
    async def charge(self, order: Order) -> str:
        return await GATEWAY.charge(order)

    @compensation_step("charge")
    async def refund(self, charge_id: str) -> None:
        pass

    @saga_step("ship", depends_on=["charge"])
    async def ship(self, order: Order, ctx: SagaContext) -> dict[str, object]:
        payment = ctx.step("charge")
        shipment = await WAREHOUSE.ship(ctx.step("ship").idempotency_key, order)
        return {"shipment": shipment, "charge_attempts": payment.attempts}

    @saga_step("audit", depends_on=["ship"])
    async def audit(self, order: Order, ctx: SagaContext) -> None:
        AUDIT.append(ctx.to_dict())


async def main() -> None:
    async with SagaEngine(max_in_flight=50) as engine:
        orders = [engine.execute(CheckoutSaga, Order(order_id=f"O-{n}")) for n in range(1000)]
        running = asyncio.gather(*orders)
        await asyncio.sleep(0)  # one loop turn: every caller has asked for a slot
        print(f"while it runs: {engine!r}")
        results = await running
        print(f"{sum(r.is_success for r in results)} of {len(results)} orders succeeded")
        retried = sum(r.result_of("ship")["charge_attempts"] > 1 for r in results)
        print(f"{retried} needed a second charge attempt; {len(WAREHOUSE.shipments)} shipments")
        print("one audit record:", json.dumps(AUDIT[0]["steps"], indent=2), sep="\n")


if __name__ == "__main__":
    asyncio.run(main())
