"""A process that runs one saga durably and prints how it ended (for tests across processes).

Usage: durable_child.py STORE_URL KEY_PREFIX CORRELATION_ID LEDGER
"""

from __future__ import annotations

import json
import os
import sys
import time

from fireflytx import SagaContext, SagaEngine, saga, saga_step
from fireflytx.config import FireflyTxSettings, PersistenceConfig

LEDGER = sys.argv[4]


def note(ctx: SagaContext, unit: str) -> None:
    line = json.dumps({"unit": unit, "key": ctx.idempotency_key, "pid": os.getpid()}) + "\n"
    fd = os.open(LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@saga("shared-order")
class SharedOrder:
    @saga_step("reserve")
    def reserve(self, qty: int, ctx: SagaContext) -> int:
        note(ctx, "reserve")
        time.sleep(0.3)  # both processes are surely in flight together
        return qty

    @saga_step("charge", depends_on=["reserve"])
    async def charge(self, qty: int, ctx: SagaContext) -> int:
        note(ctx, "charge")
        return qty * 10


if __name__ == "__main__":
    url, prefix, cid = sys.argv[1:4]
    settings = FireflyTxSettings(persistence=PersistenceConfig(url=url, key_prefix=prefix, lease_s=2.0))
    with SagaEngine(settings) as engine:
        result = engine.execute_sync(SharedOrder, 3, correlation_id=cid)
    print(json.dumps({"status": result.status.value, "charge": result.steps["charge"].result}))
