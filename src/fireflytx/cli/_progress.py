"""A live table of a run in progress, fed from inside the saga instance the engine calls.

The engine calls each step as ``getattr(instance, method_name)(...)``, so wrapping those methods
on the one instance the CLI hands to the engine shows every attempt and compensation as it starts
and ends, without any hook in the engine. Steps run on the event loop and on worker threads, so
updates take a lock; rich's ``Live`` reads the table from its own refresh thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from .._definition import SagaSpec

__all__ = ["RunProgress"]

_STYLE = {
    "waiting": "dim",
    "running": "cyan",
    "retrying": "yellow",
    "succeeded": "green",
    "failed": "bold red",
    "compensating": "yellow",
    "compensated": "yellow",
    "compensation failed": "bold red",
}


@dataclass(slots=True)
class _Step:
    step_id: str
    state: str = "waiting"
    attempts: int = 0
    started: float | None = None
    ended: float | None = None
    note: str = ""


class RunProgress:
    """What each step of one run is doing now; a rich renderable."""

    def __init__(self, spec: SagaSpec, clock: Callable[[], float] = time.monotonic) -> None:
        self._spec = spec
        self._clock = clock
        self._lock = threading.Lock()
        self._began = clock()
        self._steps = {step_id: _Step(step_id) for layer in spec.layers for step_id in layer}

    def states(self) -> dict[str, str]:
        """Step id to its current state, e.g. ``running``, ``failed``, ``compensated``."""
        with self._lock:
            return {s.step_id: s.state for s in self._steps.values()}

    def attempts(self) -> dict[str, int]:
        """Step id to the attempts seen so far."""
        with self._lock:
            return {s.step_id: s.attempts for s in self._steps.values()}

    def instrument(self, instance: Any) -> bool:
        """Wrap the instance's step and compensation methods; False if the instance refuses attributes."""
        wrappers: dict[str, Callable[..., Any]] = {}
        for step in self._spec.steps:
            wrappers[step.method_name] = self._wrap(
                getattr(instance, step.method_name), step.is_async, step.step_id, compensation=False
            )
            comp = step.compensation
            if comp is not None:
                wrappers[comp.method_name] = self._wrap(
                    getattr(instance, comp.method_name), comp.is_async, step.step_id, compensation=True
                )
        try:
            for name, wrapper in wrappers.items():
                setattr(instance, name, wrapper)
        except (AttributeError, TypeError):
            return False
        return True

    def _wrap(self, original: Callable[..., Any], is_async: bool, step_id: str, *, compensation: bool) -> Any:
        begin, end = (
            (self._undo_began, self._undo_ended) if compensation else (self._began_attempt, self._ended)
        )
        if is_async:

            async def run_async(*args: Any, **kwargs: Any) -> Any:
                begin(step_id)
                try:
                    value = await original(*args, **kwargs)
                except asyncio.CancelledError:
                    end(step_id, "timed out")
                    raise
                except BaseException as exc:
                    end(step_id, f"{type(exc).__name__}: {exc}")
                    raise
                end(step_id, None)
                return value

            return run_async

        def run_sync(*args: Any, **kwargs: Any) -> Any:
            begin(step_id)
            try:
                value = original(*args, **kwargs)
            except BaseException as exc:
                end(step_id, f"{type(exc).__name__}: {exc}")
                raise
            end(step_id, None)
            return value

        return run_sync

    def _began_attempt(self, step_id: str) -> None:
        with self._lock:
            step = self._steps[step_id]
            step.attempts += 1
            step.state = "running" if step.attempts == 1 else "retrying"
            if step.started is None:
                step.started = self._clock()
            step.ended = None

    def _ended(self, step_id: str, error: str | None) -> None:
        with self._lock:
            step = self._steps[step_id]
            step.ended = self._clock()
            step.state = "succeeded" if error is None else "failed"
            step.note = error or ""

    def _undo_began(self, step_id: str) -> None:
        with self._lock:
            step = self._steps[step_id]
            step.state = "compensating"
            step.note = ""

    def _undo_ended(self, step_id: str, error: str | None) -> None:
        with self._lock:
            step = self._steps[step_id]
            step.state = "compensated" if error is None else "compensation failed"
            step.note = error or ""

    def __rich__(self) -> RenderableType:
        now = self._clock()
        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        for column in ("", "step", "state", "attempts", "time", ""):
            table.add_column(column)
        with self._lock:
            rows = [
                (s.step_id, s.state, s.attempts, s.started, s.ended, s.note) for s in self._steps.values()
            ]
        for step_id, state, attempts, started, ended, note in rows:
            busy = state in ("running", "retrying", "compensating")
            mark: RenderableType = Spinner("dots", style="cyan") if busy else Text(" ")
            took = "" if started is None else f"{((ended or now) - started):.2f}s"
            table.add_row(
                mark,
                step_id,
                Text(state, style=_STYLE[state]),
                str(attempts or ""),
                took,
                Text(note[:80], style="dim"),
            )
        heading = Text.assemble(
            ("running ", "bold"), (self._spec.name, "bold cyan"), f" · {now - self._began:.1f}s elapsed"
        )
        return Group(heading, table)
