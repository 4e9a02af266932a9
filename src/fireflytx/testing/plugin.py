"""The pytest plugin of ``fireflytx[testing]``: started engines as fixtures.

Installed with the extra, pytest loads it by itself (entry point ``fireflytx.testing.plugin``).
Override ``fireflytx_settings`` (session scope) to configure every engine the fixtures start.
An engine can be shared across tests: each run is tied to the event loop that awaits it, and
fault injection only lasts for its ``with`` block.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .._saga._engine import SagaEngine
from .._tcc._engine import TccEngine
from ..config import FireflyTxSettings

__all__ = [
    "fireflytx_settings",
    "saga_engine",
    "saga_engine_session",
    "tcc_engine",
    "tcc_engine_session",
]


@pytest.fixture(scope="session")
def fireflytx_settings() -> FireflyTxSettings | None:
    """Settings of the engines the fixtures start; None for the defaults (environment applies)."""
    return None


@pytest.fixture
def saga_engine(fireflytx_settings: FireflyTxSettings | None) -> Iterator[SagaEngine]:
    """A started ``SagaEngine`` for one test, stopped after it."""
    with SagaEngine(fireflytx_settings) as engine:
        yield engine


@pytest.fixture(scope="session")
def saga_engine_session(fireflytx_settings: FireflyTxSettings | None) -> Iterator[SagaEngine]:
    """One started ``SagaEngine`` shared by every test of the session."""
    with SagaEngine(fireflytx_settings) as engine:
        yield engine


@pytest.fixture
def tcc_engine(fireflytx_settings: FireflyTxSettings | None) -> Iterator[TccEngine]:
    """A started ``TccEngine`` for one test, stopped after it."""
    with TccEngine(fireflytx_settings) as engine:
        yield engine


@pytest.fixture(scope="session")
def tcc_engine_session(fireflytx_settings: FireflyTxSettings | None) -> Iterator[TccEngine]:
    """One started ``TccEngine`` shared by every test of the session."""
    with TccEngine(fireflytx_settings) as engine:
        yield engine
