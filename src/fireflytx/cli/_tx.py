"""``fireflytx tx``: list, show, recover and purge the transactions a durable store keeps."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from .._persistence._config import mask_url
from .._persistence._model import DEAD, RUNNING, TransactionRecord
from .._persistence._protocol import TransactionStore
from .._persistence._rebuild import moment
from .._persistence._view import StoredRun
from .._saga._results import SagaStatus
from .._tcc._results import TccStatus
from ..topology import run_view
from ._common import EXIT_USAGE, errors, fail, write_out
from ._tx_recover import recover
from ._tx_store import (
    StoreOption,
    console,
    parse_duration,
    parse_since,
    print_table,
    store_config,
    with_store,
)

__all__ = ["tx_app"]

tx_app = typer.Typer(
    help="List, show, recover and purge the transactions kept in a durable store.", no_args_is_help=True
)

_STATUSES = (
    RUNNING,
    DEAD,
    *(s.value for s in SagaStatus),
    *(s.value for s in TccStatus if s.value not in SagaStatus.__members__),
)
_STYLE = {RUNNING: "cyan", DEAD: "bold red", "SUCCEEDED": "green", "CONFIRMED": "green"}


def _stamp(at: float) -> str:
    found = moment(at)
    return "-" if found is None else found.isoformat(timespec="seconds").replace("+00:00", "Z")


@tx_app.command("list")
def list_(
    status: Annotated[
        str | None,
        typer.Option("--status", help=f"Only this status: {', '.join(_STATUSES)}.", show_default=False),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Only the saga or TCC of this name.", show_default=False)
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only those created since: a duration ago (30m, 1h, 7d) or an ISO time (UTC unless given).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print the records as JSON instead.")] = False,
    store: StoreOption = None,
) -> None:
    """List stored transactions, newest first.

    Values (input, results) are shown in their stored JSON form with --json.
    """
    wanted = None
    if status is not None:
        wanted = status.upper()
        if wanted not in _STATUSES:
            fail(
                f"--status {status!r} is no transaction status; use one of {', '.join(_STATUSES)}",
                code=EXIT_USAGE,
            )
    after = None if since is None else parse_since(since)
    config = store_config(store)

    async def find(opened: TransactionStore) -> tuple[str, list[TransactionRecord]]:
        return opened.description, await opened.find(status=wanted, name=name, since=after, limit=limit)

    where, records = with_store(config, find)
    if as_json:
        write_out(json.dumps([asdict(r) for r in records], indent=2), None, "transactions")
        return
    if not records:
        console.print(f"no transactions in {where} match", markup=False)
        return
    table = Table(title=f"{len(records)} transaction{'' if len(records) == 1 else 's'} in {where}")
    for column in ("correlation id", "kind", "name", "status", "created", "updated", "owner", "recoveries"):
        table.add_column(column)
    for r in records:
        style = _STYLE.get(r.status, "yellow" if r.finished else "red")
        table.add_row(
            r.correlation_id,
            r.kind,
            r.name,
            f"[{style}]{r.status}[/]",
            _stamp(r.created_at),
            _stamp(r.updated_at),
            r.owner or "-",
            str(r.recovery_attempts),
        )
    print_table(table)


@tx_app.command()
def show(
    correlation_id: Annotated[
        str, typer.Argument(help="The transaction's correlation id.", show_default=False)
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the record, its checkpoints and the rebuilt result as JSON.")
    ] = False,
    store: StoreOption = None,
) -> None:
    """Show one stored transaction: its checkpoints, and for a finished one the run view, then its timeline.

    A finished transaction is rebuilt into the result its run returned; values whose class cannot
    be imported here are left out of that (a warning says so) but the checkpoints are still shown.
    """
    config = store_config(store)

    async def get(opened: TransactionStore) -> StoredRun | None:
        stored = await opened.get(correlation_id)
        return None if stored is None else StoredRun.of(stored)

    view = with_store(config, get)
    if view is None:
        fail(f"no transaction {correlation_id!r} in {mask_url(config.url)}")
    if as_json:
        write_out(json.dumps(view.to_json_dict(), indent=2), None, "transaction")
        return
    if view.unreadable is not None:
        errors.print(
            f"[yellow]warning:[/] result not rebuilt: {view.unreadable}", markup=True, highlight=False
        )
    print_table(view.checkpoint_table())
    if view.result is not None:
        write_out(run_view(view.result).to_ascii(), None, "run view")
    write_out(view.timeline().to_text(), None, "timeline")


@tx_app.command()
def purge(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Delete finished transactions last updated longer ago than this (12h, 7d, 2w).",
            show_default=False,
        ),
    ],
    store: StoreOption = None,
) -> None:
    """Delete finished transactions last updated longer ago than --older-than.

    Running and dead transactions are never purged.
    """
    seconds = parse_duration(older_than, "--older-than")
    config = store_config(store)

    async def run(opened: TransactionStore) -> tuple[str, int]:
        return opened.description, await opened.purge(time.time() - seconds)

    where, count = with_store(config, run)
    noun = "transaction" if count == 1 else "transactions"
    console.print(
        f"purged {count} finished {noun} last updated more than {older_than} ago from {where}", markup=False
    )


# After list and show, so that help lists the commands in the order people reach for them.
tx_app.command()(recover)
