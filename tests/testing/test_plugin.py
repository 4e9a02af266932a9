"""The pytest plugin's fixtures, exercised as a user's test suite would use them."""

from __future__ import annotations

import pytest

INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"

USER_TESTS = '''
import pytest
from fireflytx import FireflyTxSettings, SagaEngine, TccEngine, saga, saga_step, compensation_step
from fireflytx.testing import assert_compensated, assert_succeeded, fail_step

@pytest.fixture(scope="session")
def fireflytx_settings():
    return FireflyTxSettings(sync_step_threads=3)

@saga("order")
class Order:
    @saga_step("reserve")
    async def reserve(self, order):
        return "R-1"

    @compensation_step("reserve")
    async def release(self, reservation):
        pass

    @saga_step("charge", depends_on=["reserve"])
    def charge(self, order):
        return "C-1"

SEEN = {}

async def test_a_saga_engine_per_test(saga_engine):
    assert isinstance(saga_engine, SagaEngine) and saga_engine.is_running
    assert saga_engine.settings.sync_step_threads == 3
    SEEN["per_test"] = saga_engine
    assert_succeeded(await saga_engine.execute(Order, {}))

async def test_the_per_test_engine_is_new_and_the_last_one_stopped(saga_engine):
    assert saga_engine is not SEEN["per_test"]
    assert not SEEN["per_test"].is_running

async def test_a_session_engine(saga_engine_session, tcc_engine_session):
    SEEN["session"] = saga_engine_session
    assert isinstance(tcc_engine_session, TccEngine) and tcc_engine_session.is_running
    with fail_step(saga_engine_session, "charge"):
        assert_compensated(await saga_engine_session.execute(Order, {}), in_order=["reserve"])

def test_the_session_engine_is_shared(saga_engine_session, tcc_engine):
    assert saga_engine_session is SEEN["session"] and saga_engine_session.is_running
    assert isinstance(tcc_engine, TccEngine) and tcc_engine.is_running

async def test_a_users_failing_assertion(saga_engine):
    with fail_step(saga_engine, "charge"):
        result = await saga_engine.execute(Order, {})
    assert_succeeded(result)
'''


def test_fixtures_and_a_failing_assertion_in_a_users_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "fireflytx.testing.plugin", "-p", "no:randomly")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: expected saga 'order' to end SUCCEEDED, but it ended COMPENSATED",
        "*order · COMPENSATED*",
        "*failed at: charge (InjectedFault: injected failure of step 'charge', attempt 1)",
    ])


def test_the_plugin_lists_its_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "fireflytx.testing.plugin", "--fixtures")
    result.stdout.fnmatch_lines_random([
        "saga_engine -- *", "saga_engine_session [[]session scope[]] -- *",
        "tcc_engine -- *", "tcc_engine_session [[]session scope[]] -- *",
        "fireflytx_settings [[]session scope[]] -- *",
    ])
