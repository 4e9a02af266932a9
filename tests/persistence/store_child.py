"""A child process for the cross-process store tests: ``python store_child.py MODE URL [ARGS]``.

``write URL N``: create N transactions and append checkpoints concurrently, printing ``ACK id unit``
as each write is acknowledged; then wait to be killed. ``claim URL PREFIX N``: claim transactions
``PREFIX0..PREFIX<N-1>`` as fast as possible and print ``WON id`` for each claim won.
"""

from __future__ import annotations

import asyncio
import os
import sys

from fireflytx._persistence import Checkpoint, NewTransaction, open_store


async def write(url: str, count: int) -> None:
    store = await open_store(url)
    owner = f"writer-{os.getpid()}"

    async def one(i: int) -> None:
        cid = f"w{i}"
        new = NewTransaction(correlation_id=cid, kind="saga", name="s", input={"i": i})
        await store.create(new, owner=owner, lease_s=60)
        print(f"ACK {cid} -", flush=True)
        for unit in ("a", "b", "c", "d"):
            cp = Checkpoint(phase="step", unit_id=unit, attempts=1, idempotency_key=f"{cid}:{unit}", result=i)
            await store.append(cid, cp, owner=owner)
            print(f"ACK {cid} {unit}", flush=True)

    await asyncio.gather(*(one(i) for i in range(count)))
    print("DONE", flush=True)
    await asyncio.sleep(3600)


async def claim(url: str, prefix: str, count: int) -> None:
    store = await open_store(url)
    owner = f"claimer-{os.getpid()}"
    print("READY", flush=True)
    sys.stdin.readline()  # both claimers start together
    claims = await asyncio.gather(
        *(store.claim(f"{prefix}{i}", owner=owner, lease_s=60) for i in range(count))
    )
    for record in claims:
        if record is not None:
            print(f"WON {record.correlation_id}", flush=True)
    await store.close()


if __name__ == "__main__":
    mode, url, *rest = sys.argv[1:]
    if mode == "write":
        asyncio.run(write(url, int(rest[0])))
    else:
        asyncio.run(claim(url, rest[0], int(rest[1])))
