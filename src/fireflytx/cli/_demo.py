"""``fireflytx demo``: a saga succeeding and compensating, then a TCC confirmed and cancelled."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from ..config import FireflyTxSettings

console = Console()


def demo() -> None:
    """Run the order saga (succeeds, then compensates), then the order TCC (confirmed, then cancelled)."""
    asyncio.run(_run())


async def _run() -> None:
    from .._demo import INVENTORY, PAYMENTS, OrderFulfillmentSaga
    from .._saga._engine import SagaEngine
    from ..errors import FireflyTxError

    try:
        async with SagaEngine(FireflyTxSettings()) as engine:
            ok = await engine.execute(
                OrderFulfillmentSaga, {"order_id": "ORD-1", "items": ["book", "lamp"], "total": 42.0}
            )
            console.print(ok)
            console.print(
                f"reserved: {INVENTORY.reserved}  charged: {PAYMENTS.charged}  "
                f"confirmation: {ok.context['variables'].get('confirmation')}\n"
            )
            failed = await engine.execute(
                OrderFulfillmentSaga,
                {"order_id": "ORD-2", "items": ["desk"], "total": 310.0, "card": "0000"},
            )
            console.print(failed)
            console.print(
                f"failed step: {failed.failed_step} ({failed.error})\n"
                f"compensated: {list(failed.compensated_steps)}  still reserved for ORD-2: "
                f"{[r for r, items in INVENTORY.reserved.items() if items == ['desk']]}\n"
            )
        await _run_tcc()
    except FireflyTxError as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc


async def _run_tcc() -> None:
    from .._demo import CARDS, CARRIER, WAREHOUSE, OrderPlacementTcc
    from .._tcc._engine import TccEngine

    async with TccEngine(FireflyTxSettings()) as engine:
        confirmed = await engine.execute(
            OrderPlacementTcc, {"order_id": "ORD-3", "items": ["book", "lamp"], "total": 42.0}
        )
        console.print(confirmed)
        console.print(
            f"captured: {CARDS.captured}  shipped: {CARRIER.confirmed}  "
            f"paid with: {confirmed.context['variables'].get('paid_with')}\n"
        )
        canceled = await engine.execute(
            OrderPlacementTcc, {"order_id": "ORD-4", "items": ["desk"], "total": 310.0}
        )
        console.print(canceled)
        console.print(
            f"failed participant: {canceled.failed_participant} ({canceled.error})\n"
            f"card holds left: {CARDS.held}  stock held: {WAREHOUSE.held}  "
            f"tentative shipments: {CARRIER.tentative}"
        )
