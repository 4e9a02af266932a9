"""The one envelope every transaction event travels in, whatever the publisher.

``EventEnvelope`` documents the fields and parses events back (``EventEnvelope.model_validate_json``);
its JSON schema is committed as ``envelope.schema.json`` beside this module. The observer writes
envelopes as JSON text of exactly these fields, because a pydantic model (or even a dict and
``json.dumps``) per event would cost more than the rest of publishing together.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SCHEMA_VERSION", "EventEnvelope", "EventError", "EventType"]

SCHEMA_VERSION = 1


class EventType(enum.StrEnum):
    """What happened; saga events, TCC phase events and the transaction's own start and end."""

    TRANSACTION_STARTED = "TRANSACTION_STARTED"
    STEP_STARTED = "STEP_STARTED"
    STEP_SUCCEEDED = "STEP_SUCCEEDED"
    STEP_FAILED = "STEP_FAILED"
    STEP_RETRYING = "STEP_RETRYING"
    COMPENSATION_STARTED = "COMPENSATION_STARTED"
    COMPENSATION_SUCCEEDED = "COMPENSATION_SUCCEEDED"
    COMPENSATION_FAILED = "COMPENSATION_FAILED"
    TCC_TRY_STARTED = "TCC_TRY_STARTED"
    TCC_TRY_SUCCEEDED = "TCC_TRY_SUCCEEDED"
    TCC_TRY_FAILED = "TCC_TRY_FAILED"
    TCC_DECISION = "TCC_DECISION"
    TCC_CONFIRM_STARTED = "TCC_CONFIRM_STARTED"
    TCC_CONFIRM_SUCCEEDED = "TCC_CONFIRM_SUCCEEDED"
    TCC_CONFIRM_FAILED = "TCC_CONFIRM_FAILED"
    TCC_CANCEL_STARTED = "TCC_CANCEL_STARTED"
    TCC_CANCEL_SUCCEEDED = "TCC_CANCEL_SUCCEEDED"
    TCC_CANCEL_FAILED = "TCC_CANCEL_FAILED"
    TRANSACTION_FINISHED = "TRANSACTION_FINISHED"


class EventError(BaseModel):
    """Why an attempt failed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(description="The exception's class name, e.g. StepTimeoutError.")
    message: str


class EventEnvelope(BaseModel):
    """One transaction event. Kafka messages carry it as UTF-8 JSON, keyed by ``correlation_id``."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="fireflytx event envelope")

    schema_version: Literal[1] = Field(default=1, description="Version of this envelope's layout.")
    event_id: str = Field(description="A UUID, unique per event: consumers deduplicate on it.")
    type: EventType
    transaction_kind: Literal["saga", "tcc"]
    transaction_name: str
    correlation_id: str = Field(description="The run's id; also the Kafka message key.")
    sequence: int = Field(ge=0, description="Position of this event within its run, from 0.")
    unit_id: str | None = Field(
        default=None, description="The step id (saga) or participant id (TCC); null for run-level events."
    )
    phase: Literal["step", "compensation", "try", "confirm", "cancel"] | None = None
    attempt: int | None = Field(default=None, ge=1, description="1 for the first attempt.")
    will_retry: bool | None = Field(
        default=None, description="On *_FAILED and STEP_RETRYING: another attempt follows."
    )
    timestamp: datetime = Field(description="When it happened (UTC, ISO 8601).")
    duration_ms: float | None = Field(default=None, ge=0, description="Of the attempt or of the whole run.")
    status: str | None = Field(
        default=None,
        description=(
            "TRANSACTION_FINISHED: the result's status (SUCCEEDED, COMPENSATED, CONFIRMED...); "
            "TCC_DECISION: CONFIRM or CANCEL."
        ),
    )
    error: EventError | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="The run's headers.")
    payload: Any = Field(
        default=None,
        description=(
            "Only when asked (include_payload): the input on start events, the result on success events, "
            "after the redaction hook."
        ),
    )
