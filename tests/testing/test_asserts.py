"""Every assertion of fireflytx.testing, passing and failing, with the message it fails with."""

from __future__ import annotations

import pytest

from fireflytx import (
    SagaEngine,
    SagaResult,
    TccEngine,
    TccResult,
    cancel_method,
    compensation_step,
    confirm_method,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)
from fireflytx.testing import (
    assert_canceled,
    assert_compensated,
    assert_steps_ran,
    assert_succeeded,
    fail_step,
)


class Declined(Exception):
    pass


@saga("shop")
class Shop:
    @saga_step("reserve")
    async def reserve(self, order: dict) -> str:
        return "R-1"

    @compensation_step("reserve")
    async def release(self, reservation: str) -> None:
        pass

    @saga_step("charge", depends_on=["reserve"])
    def charge(self, order: dict) -> str:
        return "C-1"

    @compensation_step("charge")
    def refund(self, charge: str) -> None:
        pass

    @saga_step("ship", depends_on=["charge"])
    async def ship(self, order: dict) -> str:
        return "S-1"


@tcc("booking")
class Booking:
    @tcc_participant("flight", order=1)
    class Flight:
        @try_method
        async def hold(self, trip: dict) -> str:
            return "F-1"

        @confirm_method
        async def book(self, hold: str) -> None:
            pass

        @cancel_method
        async def free(self, hold: str | None) -> None:
            pass

    @tcc_participant("hotel", order=2)
    class Hotel:
        @try_method
        def hold(self, trip: dict) -> str:
            return "H-1"

        @confirm_method
        def book(self, hold: str) -> None:
            pass

        @cancel_method
        def free(self, hold: str | None) -> None:
            pass


async def succeeded(engine: SagaEngine) -> SagaResult:
    return await engine.execute(Shop, {"id": 1})


async def compensated(engine: SagaEngine) -> SagaResult:
    with fail_step(engine, "ship", error=Declined("no courier")):
        return await engine.execute(Shop, {"id": 1})


async def confirmed(engine: TccEngine) -> TccResult:
    return await engine.execute(Booking, {"to": "Oslo"})


async def canceled(engine: TccEngine) -> TccResult:
    with fail_step(engine, "hotel", error=Declined("full")):
        return await engine.execute(Booking, {"to": "Oslo"})


# -- passing -----------------------------------------------------------------------------------


async def test_each_assertion_passes_on_the_run_it_describes(
    saga_engine: SagaEngine, tcc_engine: TccEngine
) -> None:
    assert_succeeded(await succeeded(saga_engine))
    assert_steps_ran(await succeeded(saga_engine), ["ship", "reserve", "charge"])
    result = await compensated(saga_engine)
    assert_compensated(result)
    assert_compensated(result, in_order=["charge", "reserve"], failed_step="ship")
    assert_steps_ran(result, ["reserve", "charge", "ship"])
    assert_succeeded(await confirmed(tcc_engine))
    tcc_result = await canceled(tcc_engine)
    assert_canceled(tcc_result, in_order=["hotel", "flight"], failed_participant="hotel")
    assert_steps_ran(tcc_result, ["flight", "hotel"])


# -- failing, with the run in the message ------------------------------------------------------


async def test_assert_succeeded_shows_the_run_and_the_error_that_broke_it(saga_engine: SagaEngine) -> None:
    with pytest.raises(AssertionError) as caught:
        assert_succeeded(await compensated(saga_engine))
    message = str(caught.value)
    assert message.startswith("expected saga 'shop' to end SUCCEEDED, but it ended COMPENSATED\n")
    assert "failed at: ship (Declined: no courier)" in message  # the run view
    assert "undone: " in message
    assert "error that broke the run:" in message
    assert "Declined: no courier" in message.split("error that broke the run:")[1]


async def test_assert_succeeded_on_a_cancelled_tcc_expects_confirmed(tcc_engine: TccEngine) -> None:
    with pytest.raises(AssertionError) as caught:
        assert_succeeded(await canceled(tcc_engine))
    message = str(caught.value)
    assert message.startswith("expected TCC 'booking' to end CONFIRMED, but it ended CANCELED")
    assert "hotel" in message and "flight" in message
    assert "Declined: full" in message


async def test_assert_compensated_on_a_success(saga_engine: SagaEngine) -> None:
    with pytest.raises(AssertionError) as caught:
        assert_compensated(await succeeded(saga_engine))
    message = str(caught.value)
    assert message.startswith("expected saga 'shop' to end COMPENSATED, but it ended SUCCEEDED\n")
    assert "shop · SUCCEEDED" in message
    assert "error that broke the run" not in message


async def test_assert_compensated_in_the_wrong_order(saga_engine: SagaEngine) -> None:
    result = await compensated(saga_engine)
    with pytest.raises(AssertionError) as caught:
        assert_compensated(result, in_order=["reserve", "charge"])
    assert str(caught.value).startswith(
        "expected saga 'shop' to compensate ['reserve', 'charge'] in that order, "
        "but it compensated ['charge', 'reserve']\n"
    )


async def test_assert_compensated_at_the_wrong_step(saga_engine: SagaEngine) -> None:
    result = await compensated(saga_engine)
    with pytest.raises(AssertionError) as caught:
        assert_compensated(result, failed_step="charge")
    assert str(caught.value).startswith("expected saga 'shop' to fail at 'charge', but it failed at 'ship'\n")


async def test_assert_compensated_refuses_a_tcc_result(tcc_engine: TccEngine) -> None:
    with pytest.raises(TypeError, match="for a TCC use assert_canceled"):
        assert_compensated(await canceled(tcc_engine))  # type: ignore[arg-type]


async def test_assert_canceled_on_a_confirmed_tcc(tcc_engine: TccEngine) -> None:
    with pytest.raises(AssertionError) as caught:
        assert_canceled(await confirmed(tcc_engine))
    message = str(caught.value)
    assert message.startswith("expected TCC 'booking' to end CANCELED, but it ended CONFIRMED\n")
    assert "booking · CONFIRMED" in message


async def test_assert_canceled_in_the_wrong_order_or_participant(tcc_engine: TccEngine) -> None:
    result = await canceled(tcc_engine)
    with pytest.raises(AssertionError) as caught:
        assert_canceled(result, in_order=["flight", "hotel"])
    assert str(caught.value).startswith(
        "expected TCC 'booking' to cancel ['flight', 'hotel'] in that order, "
        "but it cancelled ['hotel', 'flight']"
    )
    with pytest.raises(AssertionError) as caught:
        assert_canceled(result, failed_participant="flight")
    assert str(caught.value).startswith(
        "expected TCC 'booking' to fail at 'flight', but it failed at 'hotel'"
    )


async def test_assert_canceled_refuses_a_saga_result(saga_engine: SagaEngine) -> None:
    with pytest.raises(TypeError, match="for a saga use assert_compensated"):
        assert_canceled(await succeeded(saga_engine))  # type: ignore[arg-type]


async def test_assert_steps_ran_names_what_did_not_run_and_what_also_ran(saga_engine: SagaEngine) -> None:
    with fail_step(saga_engine, "charge", error=Declined("card")):
        result = await saga_engine.execute(Shop, {"id": 1})
    with pytest.raises(AssertionError) as caught:
        assert_steps_ran(result, ["reserve", "ship"])
    message = str(caught.value)
    assert message.startswith(
        "expected saga 'shop' to run exactly ['reserve', 'ship'], "
        "but it did not run ['ship'] and also ran ['charge']\n"
    )
    assert "failed at: charge (Declined: card)" in message


async def test_assert_steps_ran_with_an_unknown_id(saga_engine: SagaEngine) -> None:
    with pytest.raises(AssertionError) as caught:
        assert_steps_ran(await succeeded(saga_engine), ["reserve", "chrage"])
    assert str(caught.value) == "saga 'shop' has no ['chrage']; it has ['reserve', 'charge', 'ship']"


def test_assertions_refuse_what_is_not_a_result() -> None:
    with pytest.raises(TypeError, match="expected a SagaResult or TccResult, got dict"):
        assert_succeeded({"status": "SUCCEEDED"})  # type: ignore[arg-type]
