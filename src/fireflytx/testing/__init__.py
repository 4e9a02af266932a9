"""Test your own sagas and TCCs, failure paths included: ``pip install 'fireflytx[testing]'``.

Fault injection goes through fireflytx's kernel, not by patching your methods: the attempt
really starts, its timeout really counts, and the engine retries, compensates or cancels as it
would in production::

    from fireflytx.testing import assert_compensated, fail_step

    async def test_declined_payment_releases_stock(saga_engine):
        with fail_step(saga_engine, "charge", error=PaymentDeclined("card")):
            result = await saga_engine.execute(OrderSaga, order)
        assert_compensated(result, in_order=["reserve"], failed_step="charge")

The pytest plugin (loaded by itself once the extra is installed) provides ``saga_engine`` and
``tcc_engine`` (one engine per test), ``saga_engine_session`` and ``tcc_engine_session`` (one per
session), and ``fireflytx_settings`` to override. Assertion failures print the run view.

Crashes: ``crash_after(engine, "charge")`` kills the process (SIGKILL) right after ``charge``
returned and before its checkpoint is written, for tests of durable runs that recover in
another process.

Time: ``fast_backoff`` skips the pauses fireflytx times itself (between compensation and TCC
cancel retries) and records them; retries of steps, tries and confirms are paced by the Java
engine's timer and keep their real ``backoff_ms``.
"""

from __future__ import annotations

from ._asserts import assert_canceled, assert_compensated, assert_steps_ran, assert_succeeded
from ._clock import FastBackoff, Pause, fast_backoff
from ._crash import crash_after
from ._faults import Fault, InjectedFault, delay_step, fail_step, timeout_step

__all__ = [
    "FastBackoff",
    "Fault",
    "InjectedFault",
    "Pause",
    "assert_canceled",
    "assert_compensated",
    "assert_steps_ran",
    "assert_succeeded",
    "crash_after",
    "delay_step",
    "fail_step",
    "fast_backoff",
    "timeout_step",
]
