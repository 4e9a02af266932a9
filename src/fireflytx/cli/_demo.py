"""``fireflytx demo``: the order-fulfillment saga, once succeeding and once compensating."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from ..config import FireflyTxSettings

console = Console()


def demo() -> None:
    """Run the order-fulfillment saga twice: once it succeeds, once payment fails and it compensates."""
    asyncio.run(_run())


async def _run() -> None:
    from .._demo import INVENTORY, PAYMENTS, OrderFulfillmentSaga
    from .._engine import SagaEngine
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
                f"{[r for r, items in INVENTORY.reserved.items() if items == ['desk']]}"
            )
    except FireflyTxError as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
