"""``fireflytx run``: execute a transaction on the engine, watch it, and see what it did."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.live import Live

from .._lifecycle import correlation_id_or_new
from .._saga._definition import SagaSpec
from .._saga._engine import SagaEngine
from .._saga._results import SagaResult
from .._tcc._definition import TccSpec
from .._tcc._engine import TccEngine
from .._tcc._results import TccResult
from .._threads import process_signals_blocked
from .._wakeful import TICK_S
from ..config import CompensationPolicy
from ..errors import FireflyTxError, GraphvizNotFoundError, RenderError
from ..events import EventObserver, EventRecorder, event_line
from ..topology import Format, run_view
from ..topology._api import spec_of
from ..topology._svg import dot_program
from ._common import EXIT_FAILURE, EXIT_USAGE, errors, fail, load_or_exit, write_out
from ._progress import RunProgress
from ._visualize import TARGET_HELP

__all__ = ["run"]

T = TypeVar("T")

_TIMELINE_SUFFIXES = {".svg": "svg", ".html": "html", ".htm": "html", ".json": "json"}


def _read_input(raw: str | None) -> Any:
    if raw is None:
        return None
    text = raw
    if raw.startswith("@"):
        source = raw[1:]
        if source == "-":
            text = sys.stdin.read()
        else:
            try:
                text = Path(source).read_text(encoding="utf-8")
            except OSError as exc:
                fail(f"cannot read the input file {source!r}: {exc.strerror or exc}", code=EXIT_USAGE)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"the file {raw[1:]!r}" if raw.startswith("@") else "--input"
        fail(f"{where} is not valid JSON: {exc}", code=EXIT_USAGE)


def _headers(pairs: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--header needs KEY=VALUE, got {pair!r}", code=EXIT_USAGE)
        headers[key] = value
    return headers


def _check_correlation_id(value: str | None) -> None:
    """Apply the engines' own rule now, so a bad id is a usage error before the JVM starts."""
    if value is None:
        return
    try:
        correlation_id_or_new(value)
    except ValueError:
        fail("--correlation-id must be non-empty and must not contain '|'", code=EXIT_USAGE)


async def _execute(
    spec: SagaSpec | TccSpec,
    payload: Any,
    policy: CompensationPolicy | None,
    correlation_id: str | None,
    headers: dict[str, str],
    progress: RunProgress,
    events: bool = False,
) -> SagaResult | TccResult:
    listeners: list[Any] = [progress]
    if events:
        listeners.append(_event_printer())
    if isinstance(spec, SagaSpec):
        try:
            instance = spec.cls()
        except Exception as exc:
            fail(
                f"cannot create {spec.cls.__qualname__}(): {type(exc).__name__}: {exc}. "
                "The CLI runs sagas whose class takes no constructor arguments."
            )
        async with SagaEngine(listeners=listeners) as saga_engine:
            return await saga_engine.execute(
                instance, payload, correlation_id=correlation_id, headers=headers, compensation_policy=policy
            )
    async with TccEngine(listeners=listeners) as tcc_engine:
        return await tcc_engine.execute(spec.cls, payload, correlation_id=correlation_id, headers=headers)


def _event_printer() -> EventObserver:
    """An event observer printing one line per event on stderr, above the live table."""

    def show(topic: str, event: dict[str, Any]) -> None:
        errors.print(event_line(event), markup=False, highlight=False, soft_wrap=True)

    return EventObserver(EventRecorder(maxlen=0, on_publish=show))



async def _awake_while(work: Awaitable[T]) -> T:
    """Await ``work`` while a timer wakes the loop a few times a second.

    Ctrl-C cancels the run from ``asyncio.run``'s signal handler, which then wakes the sleeping
    loop through its self-pipe. Under load on Linux VMs that wake-up has been seen lost: the loop
    slept on in ``epoll_wait`` beside a readable self-pipe, and the cancelled run never ended. A
    loop that never sleeps longer than a tick acts on the cancellation all the same, at the cost of
    five idle wake-ups a second.
    """
    ticker = asyncio.ensure_future(_tick())
    try:
        return await work
    finally:
        ticker.cancel()


async def _tick() -> None:
    while True:
        await asyncio.sleep(TICK_S)


def _run_live(
    spec: SagaSpec | TccSpec,
    payload: Any,
    policy: CompensationPolicy | None,
    cid: str | None,
    headers: dict[str, str],
    events: bool = False,
) -> SagaResult | TccResult:
    """Run with the live table of steps or participants on stderr, fed by the engine's events."""
    progress = RunProgress(spec)
    live = Live(progress, console=errors, refresh_per_second=12, transient=True)
    with process_signals_blocked():  # its refresh thread must leave Ctrl-C to the main thread
        live.start(refresh=True)
    try:
        return asyncio.run(_awake_while(_execute(spec, payload, policy, cid, headers, progress, events)))
    finally:
        live.stop()


def run(
    target: Annotated[str, typer.Argument(help=TARGET_HELP, show_default=False)],
    input_: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="The transaction's input as JSON, or @file.json, or @- to read stdin. Default: no input.",
            show_default=False,
        ),
    ] = None,
    policy: Annotated[
        CompensationPolicy | None,
        typer.Option(
            "--policy",
            case_sensitive=False,
            help="Compensation policy for this run (default: the saga's, else the settings').",
            show_default=False,
        ),
    ] = None,
    correlation_id: Annotated[
        str | None,
        typer.Option("--correlation-id", help="Id of this run (default: a new UUID).", show_default=False),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="KEY=VALUE header for the run; repeatable.", show_default=False),
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="How to show the finished run.")
    ] = Format.ASCII,
    timeline_file: Annotated[
        Path | None,
        typer.Option(
            "--timeline",
            help="Also write the run's timeline to this .svg, .html or .json file.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result's JSON (its to_json_dict()) instead.")
    ] = False,
    events: Annotated[
        bool,
        typer.Option("--events", help="Print each transaction event on stderr as it happens."),
    ] = False,
) -> None:
    """Execute a saga or TCC on the engine, show its progress live, then what each part did.

    Starts the JVM in this process (and fetches the engine's jars once if
    needed). A saga's steps, or a TCC's participants, are shown live as they
    run and finish. The live display goes to stderr, the result to stdout.

    Exit codes: 0 the transaction succeeded; 1 it did not, or could not start;
    2 a bad argument.
    """
    if timeline_file is not None and timeline_file.suffix.lower() not in _TIMELINE_SUFFIXES:
        fail(f"--timeline must end in .svg, .html or .json, got {timeline_file.name!r}", code=EXIT_USAGE)
    if fmt is Format.SVG and not as_json and dot_program() is None:
        fail(str(GraphvizNotFoundError()))
    payload = _read_input(input_)
    headers = _headers(header or [])
    _check_correlation_id(correlation_id)
    cls = load_or_exit(target)
    spec = spec_of(cls)
    if isinstance(spec, TccSpec) and policy is not None:
        fail("--policy chooses how a saga compensates; a TCC has no compensation policy", code=EXIT_USAGE)
    result: SagaResult | TccResult
    try:
        result = _run_live(spec, payload, policy, correlation_id, headers, events)
    except FireflyTxError as exc:
        fail(f"{type(exc).__name__}: {exc}")
    view = run_view(result, cls)
    if as_json:
        write_out(json.dumps(result.to_json_dict(), indent=2), None, "result")
    else:
        try:
            write_out(view.render(fmt), None, "run view")
        except RenderError as exc:
            fail(str(exc))
    if timeline_file is not None:
        kind = _TIMELINE_SUFFIXES[timeline_file.suffix.lower()]
        write_out(view.timeline().render(kind), timeline_file, f"{kind} timeline")
    if not result.is_success:
        raise typer.Exit(EXIT_FAILURE)
