"""Run listeners: how anything outside the core watches or records a transaction run.

Every attempt of every saga step, compensation and TCC phase passes through one kernel, which
tells its listeners what happened as it happens. There are two kinds:

- An **observer** (``on_event(event)``) watches. It is called on a fireflytx thread of its own, in
  the order events happened, never inside a run: an observer that raises is logged and counted,
  one that is slow only delays its own later events (they wait in a bounded buffer; beyond it the
  oldest are dropped and counted). Nothing an observer does changes an outcome. Metrics, events,
  traces and the CLI's live view are observers.

  An observer with ``inline = True`` is called instead on the thread that produced the event, as
  it happens: it must be thread-safe (it may be called from several threads at once, even for
  one run whose parallel steps end together: take a lock to keep one order), never block, and
  return within microseconds, because the run waits for it. Raising still changes no outcome
  (logged and counted). It is for observers that only hand the event on to a bounded queue of
  their own, such as ``fireflytx.events``' Kafka publisher, for which the hand-over to the
  observer thread costs more than the work.
- A **journal** (``async record(event)``) records. It is awaited on the run's event loop for the
  events that mark progress a crash must not lose (the *checkpoints*: a transaction's start, every
  attempt that ends a step, compensation or TCC phase for good, a TCC's decision, the end), and
  the run does not go past such a point until ``record`` returned. If it raises, that step,
  compensation or phase fails with a ``JournalError`` (a TCC decision to confirm becomes a cancel),
  so a run never reports success for something its journal did not accept.

Give listeners to an engine's constructor (``SagaEngine(listeners=[...])``) or ``add_listener``;
an object with ``on_event`` is an observer, one with ``record`` a journal (an object may be both).
An observer that queues work of its own (an event publisher) may also have ``close(timeout)``: the
engine calls it when it stops, after the observer's last event, to drain within ``timeout`` seconds.

The events, in the order of a run::

    TransactionStarted
      AttemptStarted / AttemptFinished     per attempt (phase STEP, COMPENSATION, TRY, CONFIRM, CANCEL)
      DecisionMade                          TCC only: CONFIRM or CANCEL, before phase two starts
    TransactionFinished

``AttemptFinished.final`` is True when no further attempt of that step, compensation or phase
follows (it succeeded, or it failed for good); the journal receives exactly those, plus the start,
the decision and the end.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "AttemptFinished",
    "AttemptStarted",
    "Decision",
    "DecisionMade",
    "Journal",
    "Observer",
    "Phase",
    "RunEvent",
    "TransactionFinished",
    "TransactionKind",
    "TransactionStarted",
]


class TransactionKind(enum.StrEnum):
    """What kind of transaction a run is."""

    SAGA = "saga"
    TCC = "tcc"


class Phase(enum.StrEnum):
    """What an attempt ran: a saga step or compensation, or a TCC phase."""

    STEP = "step"
    COMPENSATION = "compensation"
    TRY = "try"
    CONFIRM = "confirm"
    CANCEL = "cancel"


class Decision(enum.StrEnum):
    """A TCC's global decision, taken once every try has ended."""

    CONFIRM = "CONFIRM"
    CANCEL = "CANCEL"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEvent:
    """What every event says: which run, and when (wall clock, UTC)."""

    kind: TransactionKind
    name: str
    """The saga's or TCC's name."""
    correlation_id: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionStarted(RunEvent):
    """A run is about to start its first step or try; nothing has run yet."""

    input: Any = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    definition: Any = field(default=None, repr=False)
    """The run's ``SagaSpec`` or ``TccSpec``, for observers that read per-step options."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptStarted(RunEvent):
    """An attempt of a step, compensation or TCC phase starts running."""

    phase: Phase
    unit_id: str
    """The step id (saga) or participant id (TCC)."""
    attempt: int
    """1 for the first attempt."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptFinished(RunEvent):
    """An attempt ended: ``error`` is None when it succeeded; ``result`` is what it returned."""

    phase: Phase
    unit_id: str
    attempt: int
    duration_ms: float
    error: BaseException | None = field(default=None, repr=False)
    result: Any = field(default=None, repr=False)
    final: bool = False
    """No further attempt follows: it succeeded, or it failed for good."""
    replayed: bool = False
    """Recovery did not run it: its outcome is the one a crashed run recorded (journals skip these)."""

    @property
    def succeeded(self) -> bool:
        """Whether this attempt succeeded."""
        return self.error is None


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionMade(RunEvent):
    """A TCC decided to confirm every participant, or to cancel those whose try started."""

    decision: Decision


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionFinished(RunEvent):
    """A run ended; ``status`` is the result's status (``SUCCEEDED``, ``COMPENSATED``, ``CONFIRMED``...)."""

    status: str
    duration_ms: float
    result: Any = field(repr=False)
    """The ``SagaResult`` or ``TccResult``."""


@runtime_checkable
class Observer(Protocol):
    """Watches runs; see the module docstring for the guarantees."""

    def on_event(self, event: RunEvent) -> None:
        """Called once per event, on fireflytx's observer thread (or inline: see above), in event order."""


@runtime_checkable
class Journal(Protocol):
    """Records checkpoints; awaited before the run goes on. See the module docstring."""

    async def record(self, event: RunEvent) -> None:
        """Accept a checkpoint, or raise to fail what it records."""
