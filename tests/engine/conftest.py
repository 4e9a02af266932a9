from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fireflytx import SagaEngine


@pytest.fixture
async def engine() -> AsyncIterator[SagaEngine]:
    async with SagaEngine() as running:
        yield running
