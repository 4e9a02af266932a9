"""The event observer an engine makes from its settings (``FIREFLYTX_EVENTS__PUBLISHER=kafka``)."""

from __future__ import annotations

from ..config import EventsConfig
from ._kafka import KafkaPublisher
from ._observer import EventObserver

__all__ = ["observer_from_settings"]


def observer_from_settings(config: EventsConfig) -> EventObserver:
    """The observer ``config.publisher`` asks for (engines call this only when it is not ``none``).

    Raises:
        KafkaPublisherError: Kafka was asked for and ``confluent-kafka`` is missing or refuses the settings.
    """
    return EventObserver(KafkaPublisher(config.kafka, buffer=config.buffer), config)
