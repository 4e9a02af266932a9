"""The payment-processing saga: validate, charge, confirm; undo the completed steps on failure.

Run it:                python examples/payment_saga.py
See its shape:         fireflytx visualize examples/payment_saga.py:PaymentSaga
Run it from the CLI:   fireflytx run examples/payment_saga.py:PaymentSaga \\
                           --input '{"payment_id": "P-1", "amount": 25}'
Make it fail:          ... --input '{"payment_id": "P-2", "amount": 25, "card": "0000"}'
Make it retry:         ... --input '{"payment_id": "P-3", "amount": 25, "fraud_check_hiccups": 2}'

The services are in-memory stand-ins, so the example runs anywhere.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Annotated

from pydantic import BaseModel

from fireflytx import FromStep, SagaEngine, compensation_step, saga, saga_step


class Payment(BaseModel):
    payment_id: str
    amount: float
    card: str = "4242"
    email: str = "customer@example.com"
    fraud_check_hiccups: int = 0
    """How many times the fraud check fails transiently before it answers (to watch retries)."""


class FraudCheck:
    """Holds a hold per validated payment; fails transiently as often as the payment asks."""

    def __init__(self) -> None:
        self.holds: set[str] = set()
        self._calls: dict[str, int] = {}

    def validate(self, payment: Payment) -> str:
        calls = self._calls[payment.payment_id] = self._calls.get(payment.payment_id, 0) + 1
        if calls <= payment.fraud_check_hiccups:
            raise ConnectionError(f"fraud check unavailable (call {calls})")
        self.holds.add(payment.payment_id)
        return f"HOLD-{payment.payment_id}"

    def release(self, payment_id: str) -> None:
        self.holds.discard(payment_id)


class Gateway:
    """Charges held in memory; card 0000 is declined."""

    def __init__(self) -> None:
        self.charges: dict[str, float] = {}
        self._ids = itertools.count(1)

    def charge(self, card: str, amount: float) -> str:
        if card == "0000":
            raise PermissionError(f"card ending {card} was declined")
        charge_id = f"CH-{next(self._ids)}"
        self.charges[charge_id] = amount
        return charge_id

    def refund(self, charge_id: str) -> None:
        self.charges.pop(charge_id, None)


FRAUD = FraudCheck()
GATEWAY = Gateway()
OUTBOX: list[str] = []


@saga("payment-processing")
class PaymentSaga:
    """Validate the payment, charge it, then confirm it to the customer."""

    @saga_step("validate-payment", retry=3, timeout_ms=5000)
    async def validate_payment(self, payment: Payment) -> dict[str, str]:
        await asyncio.sleep(0.01)
        return {"payment_id": payment.payment_id, "hold": FRAUD.validate(payment)}

    @compensation_step("validate-payment")
    async def refund_validation(self, validation: dict[str, str]) -> None:
        FRAUD.release(validation["payment_id"])

    @saga_step("process-payment", depends_on=["validate-payment"])
    def process_payment(self, payment: Payment) -> dict[str, str]:
        return {"charge_id": GATEWAY.charge(payment.card, payment.amount)}

    @compensation_step("process-payment")
    def refund_payment(self, charge: dict[str, str]) -> None:
        GATEWAY.refund(charge["charge_id"])

    @saga_step("send-confirmation", depends_on=["process-payment"])
    async def send_confirmation(
        self, payment: Payment, charge: Annotated[dict[str, str], FromStep("process-payment")]
    ) -> dict[str, str]:
        OUTBOX.append(f"to {payment.email}: payment {payment.payment_id} charged as {charge['charge_id']}")
        return {"sent_to": payment.email}


async def main() -> None:
    async with SagaEngine() as engine:
        ok = await engine.execute(PaymentSaga, Payment(payment_id="P-1", amount=25.0, fraud_check_hiccups=1))
        print(ok, OUTBOX, sep="\n")
        failed = await engine.execute(PaymentSaga, Payment(payment_id="P-2", amount=25.0, card="0000"))
        print(failed, f"failed at {failed.failed_step}: {failed.error}", sep="\n")
        print(f"fraud holds left: {FRAUD.holds}")


if __name__ == "__main__":
    asyncio.run(main())
