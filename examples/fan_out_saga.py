"""Ship every parcel of an order: one step fanned out over a list known only at run time.

The seed guide's order pattern with a dynamic fan-out: reserve stock for the order, then ship each
parcel through the courier (``fan_out=lambda order: order["parcels"]``, at most three at a time,
each parcel with its own retries), then print a label for every shipment the previous step
returned (``fan_out=FromStep("ship-parcel")``), then invoice. A parcel the courier refuses recalls
the parcels already shipped and releases the reservation; an invoice that fails undoes them all.

Run it:                python examples/fan_out_saga.py
See its shape:         fireflytx visualize examples/fan_out_saga.py:ParcelShippingSaga
Run it from the CLI:   fireflytx run examples/fan_out_saga.py:ParcelShippingSaga \\
                           --input '{"order_id": "A-1", "parcels": [{"sku": "book", "region": "EU"}]}'
Make a parcel fail:    ... --input '{"order_id": "A-2", "parcels": [{"sku": "desk", "region": "MOON"}]}'
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Annotated, Any

from fireflytx import FanOutItem, FromStep, SagaEngine, compensation_step, saga, saga_step

NETWORK_DELAY_S = 0.01


class InventoryService:
    """Holds reservations in memory; releasing one returns its items."""

    def __init__(self) -> None:
        self.reserved: dict[str, list[str]] = {}
        self._ids = itertools.count(1)

    async def reserve(self, skus: list[str]) -> str:
        await asyncio.sleep(NETWORK_DELAY_S)
        reservation_id = f"RES-{next(self._ids)}"
        self.reserved[reservation_id] = skus
        return reservation_id

    async def release(self, reservation_id: str) -> None:
        await asyncio.sleep(NETWORK_DELAY_S)
        self.reserved.pop(reservation_id, None)


class CourierService:
    """Ships parcels to the regions it serves; a recalled parcel is no longer in transit."""

    REGIONS = ("EU", "US")

    def __init__(self) -> None:
        self.in_transit: dict[str, str] = {}
        self._ids = itertools.count(1)

    async def ship(self, sku: str, region: str) -> str:
        await asyncio.sleep(NETWORK_DELAY_S)
        if region not in self.REGIONS:
            raise LookupError(f"no courier delivers {sku} to {region}")
        tracking = f"TRK-{next(self._ids)}"
        self.in_transit[tracking] = sku
        return tracking

    async def recall(self, tracking: str, sku: str) -> None:
        await asyncio.sleep(NETWORK_DELAY_S)
        if self.in_transit.get(tracking) == sku:
            del self.in_transit[tracking]


class BillingService:
    """Invoices orders; an order over the limit is refused."""

    LIMIT = 5

    async def invoice(self, order_id: str, parcels: int) -> str:
        await asyncio.sleep(NETWORK_DELAY_S)
        if parcels > self.LIMIT:
            raise PermissionError(f"order {order_id}: {parcels} parcels exceed the limit of {self.LIMIT}")
        return f"INV-{order_id}"


INVENTORY = InventoryService()
COURIER = CourierService()
BILLING = BillingService()


@saga("parcel-shipping")
class ParcelShippingSaga:
    """Reserve, ship each parcel, label each shipment, invoice."""

    @saga_step("reserve-stock")
    async def reserve_stock(self, order: dict[str, Any]) -> str:
        return await INVENTORY.reserve([p["sku"] for p in order["parcels"]])

    @compensation_step("reserve-stock")
    async def release_stock(self, reservation_id: str) -> None:
        await INVENTORY.release(reservation_id)

    # The parcel (the item) is the step's first parameter; each clone retries on its own.
    @saga_step(
        "ship-parcel",
        depends_on=["reserve-stock"],
        fan_out=lambda order: order["parcels"],
        max_parallel=3,
        retry=2,
        backoff_ms=20,
    )
    async def ship_parcel(self, parcel: dict[str, str]) -> dict[str, str]:
        tracking = await COURIER.ship(parcel["sku"], parcel["region"])
        return {"sku": parcel["sku"], "tracking": tracking}

    # Runs once per shipped parcel: its first parameter is that clone's result, FanOutItem its parcel.
    @compensation_step("ship-parcel")
    async def recall_parcel(
        self, shipment: dict[str, str], parcel: Annotated[dict[str, str], FanOutItem()]
    ) -> None:
        await COURIER.recall(shipment["tracking"], parcel["sku"])

    # Fans out over the list the previous step returned.
    @saga_step("print-label", depends_on=["ship-parcel"], fan_out=FromStep("ship-parcel"))
    def print_label(self, shipment: dict[str, str]) -> str:
        return f"{shipment['sku']} → {shipment['tracking']}"

    @saga_step("invoice", depends_on=["print-label"])
    async def invoice(self, order: dict[str, Any]) -> str:
        return await BILLING.invoice(order["order_id"], len(order["parcels"]))


def _order(order_id: str, *parcels: tuple[str, str]) -> dict[str, Any]:
    return {"order_id": order_id, "parcels": [{"sku": sku, "region": region} for sku, region in parcels]}


def _recalled(result: Any) -> int:
    return sum(1 for step_id in result.compensated_steps if step_id.startswith("ship-parcel#"))


async def main() -> None:
    async with SagaEngine() as engine:
        four = _order("A-1", ("book", "EU"), ("lamp", "US"), ("mug", "EU"), ("pen", "US"))
        ok = await engine.execute(ParcelShippingSaga, four)
        print("A-1", ok.status.value, "labels:", "; ".join(ok.steps["print-label"].result))
        print("A-1 clones:", ", ".join(f"{k} {v.status.value}" for k, v in ok.steps.items() if "#" in k))

        refused = await engine.execute(
            ParcelShippingSaga, _order("A-2", ("desk", "EU"), ("chair", "EU"), ("globe", "MOON"))
        )
        clone = refused.steps["ship-parcel#2"]
        print(
            "A-2", refused.status.value, f"{clone.step_id} failed after {clone.attempts} attempts:",
            clone.error.message if clone.error else None,
        )
        released = "reserve-stock" in refused.compensated_steps
        print("A-2 recalled", _recalled(refused), "parcels; stock released:", released)

        too_big = await engine.execute(ParcelShippingSaga, _order("A-3", *[("box", "EU")] * 6))
        failed_at = ", ".join(too_big.failed_steps)
        print("A-3", too_big.status.value, "at", failed_at, "recalled", _recalled(too_big), "parcels")
        print(f"in transit: {len(COURIER.in_transit)}, reservations held: {len(INVENTORY.reserved)}")


if __name__ == "__main__":
    asyncio.run(main())
