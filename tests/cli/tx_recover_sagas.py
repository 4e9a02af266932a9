"""A saga that ``fireflytx tx recover --import tx_recover_sagas`` resumes in the recovery test.

``CALLS`` records every step and compensation that ran in this process, so the test sees that a
step with a checkpoint is not run again and that the rest ran with its stored result restored.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel

from fireflytx import FromStep, compensation_step, saga, saga_step

CALLS: list[tuple[str, object]] = []


class Parcel(BaseModel):
    parcel_id: str
    weight_kg: float


@saga("tx-recover-shipping")
class Shipping:
    @saga_step("pack")
    def pack(self, order: dict[str, str]) -> Parcel:
        CALLS.append(("pack", order))
        return Parcel(parcel_id=f"P-{order['order_id']}", weight_kg=1.5)

    @compensation_step("pack")
    def unpack(self, parcel: Parcel) -> None:
        CALLS.append(("unpack", parcel))

    @saga_step("label", depends_on=["pack"])
    def label(self, parcel: Annotated[Parcel, FromStep("pack")]) -> str:
        CALLS.append(("label", parcel))
        return f"L-{parcel.parcel_id}"
