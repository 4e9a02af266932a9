"""A live table of a run in progress: an observer of the run, for sagas and TCCs alike.

Events arrive on the engine's observer thread while rich's ``Live`` reads the table from its own
refresh thread, so updates take a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from .._core._attempt import safe_text
from .._saga._definition import SagaSpec
from .._saga._fan_out import split_clone_id
from .._tcc._definition import TccSpec
from ..listeners import AttemptFinished, AttemptStarted, Phase, RunEvent

__all__ = ["RunProgress"]

_STYLE = {
    "waiting": "dim",
    "running": "cyan",
    "retrying": "yellow",
    "succeeded": "green",
    "tried": "green",
    "failed": "bold red",
    "compensating": "yellow",
    "compensated": "yellow",
    "compensation failed": "bold red",
    "confirming": "cyan",
    "confirmed": "green",
    "confirm failed": "bold red",
    "cancelling": "yellow",
    "cancelled": "yellow",
    "cancel failed": "bold red",
}
_BUSY = {"running", "retrying", "compensating", "confirming", "cancelling"}

# Phase → (state while running, state when it succeeded, state when it failed for good)
_STATES = {
    Phase.STEP: ("running", "succeeded", "failed"),
    Phase.TRY: ("running", "tried", "failed"),
    Phase.COMPENSATION: ("compensating", "compensated", "compensation failed"),
    Phase.CONFIRM: ("confirming", "confirmed", "confirm failed"),
    Phase.CANCEL: ("cancelling", "cancelled", "cancel failed"),
}
_FORWARD = (Phase.STEP, Phase.TRY)


@dataclass(slots=True)
class _Unit:
    unit_id: str
    state: str = "waiting"
    attempts: int = 0
    started: float | None = None
    ended: float | None = None
    note: str = ""
    clones_done: int = 0
    """A fan-out step's clones that succeeded so far (they have no rows of their own)."""


class RunProgress:
    """What each step (or participant) of one run is doing now; an observer and a rich renderable."""

    def __init__(self, spec: SagaSpec | TccSpec, clock: Callable[[], float] = time.monotonic) -> None:
        self._name = spec.name
        self._clock = clock
        self._lock = threading.Lock()
        self._began = clock()
        if isinstance(spec, SagaSpec):
            ids = [step_id for layer in spec.layers for step_id in layer]
            self._heading = "step"
        else:
            ids = [p.participant_id for p in spec.participants]
            self._heading = "participant"
        self._units = {unit_id: _Unit(unit_id) for unit_id in ids}

    def states(self) -> dict[str, str]:
        """Unit id to its current state, e.g. ``running``, ``failed``, ``compensated``, ``confirmed``."""
        with self._lock:
            return {u.unit_id: u.state for u in self._units.values()}

    def attempts(self) -> dict[str, int]:
        """Unit id to the forward attempts (steps or tries) seen so far."""
        with self._lock:
            return {u.unit_id: u.attempts for u in self._units.values()}

    def on_event(self, event: RunEvent) -> None:
        """Follow one run event (called on the engine's observer thread).

        Events of other transactions (a sub-saga's child, whose step ids may repeat the parent's)
        are not this run's.
        """
        if event.name != self._name:
            return
        if isinstance(event, AttemptStarted):
            self._started(event)
        elif isinstance(event, AttemptFinished):
            self._finished(event)

    def _started(self, event: AttemptStarted) -> None:
        with self._lock:
            unit = self._units.get(event.unit_id)
            if unit is None:
                return
            running = _STATES[event.phase][0]
            if event.phase in _FORWARD:
                unit.attempts = event.attempt
                running = "running" if event.attempt == 1 else "retrying"
                if unit.started is None:
                    unit.started = self._clock()
                unit.ended = None
            unit.state = running
            unit.note = ""

    def _finished(self, event: AttemptFinished) -> None:
        with self._lock:
            unit = self._units.get(event.unit_id)
            if unit is None:
                self._clone_finished(event)
                return
            _, succeeded, failed = _STATES[event.phase]
            if event.phase in _FORWARD:
                unit.ended = self._clock()
            if event.error is None:
                unit.state = succeeded
                unit.note = f"{unit.clones_done} clones done" if unit.clones_done else ""
            else:
                unit.state = failed if event.final else "retrying"
                unit.note = f"{type(event.error).__name__}: {safe_text(event.error)}"

    def _clone_finished(self, event: AttemptFinished) -> None:
        """Count a fan-out clone's success on its step's row (thousands of rows would bury the run)."""
        split = split_clone_id(event.unit_id)
        parent = None if split is None else self._units.get(split[0])
        if parent is None or event.phase is not Phase.STEP or event.error is not None:
            return
        parent.clones_done += 1
        parent.note = f"{parent.clones_done} clones done"

    def __rich__(self) -> RenderableType:
        now = self._clock()
        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        for column in ("", self._heading, "state", "attempts", "time", ""):
            table.add_column(column)
        with self._lock:
            rows = [
                (u.unit_id, u.state, u.attempts, u.started, u.ended, u.note) for u in self._units.values()
            ]
        for unit_id, state, attempts, started, ended, note in rows:
            mark: RenderableType = Spinner("dots", style="cyan") if state in _BUSY else Text(" ")
            took = "" if started is None else f"{((ended or now) - started):.2f}s"
            table.add_row(
                mark,
                unit_id,
                Text(state, style=_STYLE[state]),
                str(attempts or ""),
                took,
                Text(note[:80], style="dim"),
            )
        heading = Text.assemble(
            ("running ", "bold"), (self._name, "bold cyan"), f" · {now - self._began:.1f}s elapsed"
        )
        return Group(heading, table)
