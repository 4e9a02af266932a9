from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .kafka_broker import KafkaBroker


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A real Kafka broker for the whole session; a broker that cannot start fails the tests."""
    broker = KafkaBroker(Path(tmp_path_factory.mktemp("kafka")))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
