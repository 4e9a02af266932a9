"""Engine-wide retry, backoff and timeout defaults from a settings file, run on the real engine.

A decorator argument left out takes the engine's default; one given wins even when it equals the
built-in default. Each case also runs without the file, so it fails if the file had no effect.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fireflytx import (
    FireflyTxSettings,
    SagaEngine,
    SagaStatus,
    TccEngine,
    TccStatus,
    cancel_method,
    compensation_step,
    confirm_method,
    definition_of,
    saga,
    saga_step,
    tcc,
    tcc_participant,
    try_method,
)
from fireflytx.topology import topology

calls: dict[str, int] = {}


def _fail_first(key: str, failures: int) -> None:
    calls[key] = calls.get(key, 0) + 1
    if calls[key] <= failures:
        raise RuntimeError(f"{key} attempt {calls[key]} fails")


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    calls.clear()


def _settings(tmp_path: Path, text: str) -> FireflyTxSettings:
    path = tmp_path / "fireflytx.toml"
    path.write_text(text, encoding="utf-8")
    return FireflyTxSettings.from_file(path)


@saga("flaky-twice")
class FlakyTwice:
    @saga_step("charge")
    async def charge(self) -> str:
        _fail_first("charge", 2)
        return "charged"


@saga("says-no-retry")
class SaysNoRetry:
    @saga_step("charge", retry=0)
    async def charge(self) -> str:
        _fail_first("explicit", 2)
        return "charged"


@saga("compensation-flaky")
class CompensationFlaky:
    @saga_step("reserve")
    async def reserve(self) -> str:
        return "held"

    @compensation_step("reserve")
    async def release(self, held: str) -> None:
        _fail_first("release", 1)

    @saga_step("charge", depends_on=["reserve"], retry=0)
    async def charge(self) -> None:
        raise RuntimeError("card declined")


@saga("slow-step")
class SlowStep:
    @saga_step("wait")
    async def wait(self) -> None:
        await asyncio.sleep(30)

    @saga_step("unlimited", timeout_ms=0)
    async def unlimited(self) -> str:
        await asyncio.sleep(0.3)
        return "done"


FILE = """
[steps]
retry = 2
backoff_ms = 1

[compensations]
retry = 1
backoff_ms = 1
"""


async def test_a_step_without_retry_takes_the_files_retries(tmp_path: Path) -> None:
    async with SagaEngine(_settings(tmp_path, FILE)) as engine:
        result = await engine.execute(FlakyTwice)
    assert result.status is SagaStatus.SUCCEEDED
    assert result.steps["charge"].attempts == 3
    assert result.steps["charge"].result == "charged"

    calls.clear()
    async with SagaEngine(FireflyTxSettings()) as engine:
        without = await engine.execute(FlakyTwice)
    assert without.status is not SagaStatus.SUCCEEDED
    assert without.steps["charge"].attempts == 1


async def test_a_retry_the_decorator_gives_wins_even_when_it_is_the_default(tmp_path: Path) -> None:
    async with SagaEngine(_settings(tmp_path, FILE)) as engine:
        result = await engine.execute(SaysNoRetry)
    assert result.status is not SagaStatus.SUCCEEDED
    assert result.steps["charge"].attempts == 1


async def test_compensations_take_the_files_retries(tmp_path: Path) -> None:
    async with SagaEngine(_settings(tmp_path, FILE)) as engine:
        result = await engine.execute(CompensationFlaky)
    assert result.status is SagaStatus.COMPENSATED
    assert result.steps["reserve"].compensation_attempts == 2

    calls.clear()
    async with SagaEngine(FireflyTxSettings()) as engine:
        without = await engine.execute(CompensationFlaky)
    assert without.status is SagaStatus.COMPENSATION_FAILED


async def test_a_default_timeout_limits_steps_that_set_none(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "[steps]\ntimeout_ms = 100\n")
    async with SagaEngine(settings) as engine:
        result = await engine.execute(SlowStep)
    assert result.status is not SagaStatus.SUCCEEDED
    assert result.steps["wait"].error is not None
    assert result.steps["wait"].error.type == "StepTimeoutError"
    assert result.steps["unlimited"].result == "done"


async def test_the_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREFLYTX_STEPS__RETRY", "0")
    async with SagaEngine(_settings(tmp_path, FILE)) as engine:
        result = await engine.execute(FlakyTwice)
    assert result.steps["charge"].attempts == 1


def test_register_returns_the_spec_the_engine_runs_and_topology_shows_it(tmp_path: Path) -> None:
    with SagaEngine(_settings(tmp_path, FILE)) as engine:
        spec = engine.register(FlakyTwice)
    assert spec.step("charge").retry == 2
    assert spec.step("charge").backoff_ms == 1
    assert definition_of(FlakyTwice).step("charge").retry == 0
    assert "retry=2" in topology(spec).to_ascii()
    assert "retry=2" not in topology(FlakyTwice).to_ascii()


@tcc("tcc-flaky-try")
class TccFlakyTry:
    @tcc_participant("payment")
    class Payment:
        @try_method
        async def reserve(self) -> str:
            _fail_first("try", 2)
            return "hold"

        @confirm_method
        async def confirm(self, hold: str) -> None:
            _fail_first("confirm", 1)

        @cancel_method
        async def cancel(self, hold: str | None) -> None: ...


TCC_FILE = """
[tcc.tries]
retry = 2
backoff_ms = 1

[tcc.confirms]
retry = 0
"""


async def test_tcc_phases_take_the_files_retries(tmp_path: Path) -> None:
    async with TccEngine(_settings(tmp_path, TCC_FILE)) as engine:
        result = await engine.execute(TccFlakyTry)
    payment = result.participants["payment"]
    assert payment.try_phase.attempts == 3
    assert payment.confirm_phase.attempts == 1
    assert result.status is TccStatus.CONFIRM_FAILED

    calls.clear()
    async with TccEngine(FireflyTxSettings()) as engine:
        without = await engine.execute(TccFlakyTry)
    assert without.participants["payment"].try_phase.attempts == 1
    assert without.status is TccStatus.CANCELED


@tcc("tcc-own-timeout", timeout_ms=0)
class TccOwnTimeout:
    @tcc_participant("p")
    class P:
        @try_method
        async def reserve(self) -> str:
            await asyncio.sleep(0.3)
            return "hold"

        @confirm_method
        async def confirm(self, hold: str) -> None: ...

        @cancel_method
        async def cancel(self, hold: str | None) -> None: ...


@tcc("tcc-no-timeout")
class TccNoTimeout:
    @tcc_participant("p")
    class P:
        @try_method
        async def reserve(self) -> str:
            await asyncio.sleep(30)
            return "hold"

        @confirm_method
        async def confirm(self, hold: str) -> None: ...

        @cancel_method
        async def cancel(self, hold: str | None) -> None: ...


async def test_a_tcc_timeout_wins_over_the_phase_default(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "[tcc.tries]\ntimeout_ms = 100\n")
    async with TccEngine(settings) as engine:
        own = await engine.execute(TccOwnTimeout)
        limited = await engine.execute(TccNoTimeout)
    assert own.status is TccStatus.CONFIRMED
    assert limited.status is TccStatus.CANCELED
    error = limited.participants["p"].try_phase.error
    assert error is not None and error.type == "StepTimeoutError"
