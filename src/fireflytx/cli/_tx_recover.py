"""``fireflytx tx recover``: resume transactions whose process died, with the user's own definitions.

Recovery replays a transaction's checkpoints into the saga or TCC class registered under its name
and runs what is left, so it needs that code: ``--import`` names the modules (or files) that
define the classes. Engines started here use the configured settings with ``--store`` as their
store; each resumes only transactions of the definitions registered with it.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .._persistence._config import PersistenceConfig, mask_url
from .._persistence._model import TransactionRecord
from .._persistence._protocol import TransactionStore
from .._saga._engine import SagaEngine
from .._saga._results import SagaResult
from .._spec import spec_of
from .._tcc._engine import TccEngine
from .._tcc._results import TccResult
from ..errors import FireflyTxError
from ._common import errors, fail
from ._target import TargetError, kind_of, load_targets
from ._tx_store import StoreOption, console, print_table, settings_with, store_config, with_store

__all__ = ["recover"]


def _definitions(modules: list[str]) -> dict[str, dict[str, type]]:
    """Every @saga and @tcc class the modules define, by kind and then by transaction name."""
    found: dict[str, dict[str, type]] = {"saga": {}, "tcc": {}}
    for module in modules:
        try:
            classes = load_targets(module)
        except TargetError as exc:
            if exc.detail:
                errors.print(escape(exc.detail.rstrip()), style="dim")
            fail(f"--import {module}: {exc.message}", problems=exc.problems, code=exc.exit_code)
        for cls in classes:
            kind = kind_of(cls)
            if kind is not None:
                found[kind][spec_of(cls)[1].name] = cls
    return found


def _names(found: dict[str, dict[str, type]]) -> str:
    return ", ".join(f"{kind} {name!r}" for kind, named in found.items() for name in named)


def _check_one(config: PersistenceConfig, correlation_id: str, found: dict[str, dict[str, type]]) -> str:
    """The kind of the one transaction to recover, once it is known to be recoverable here."""

    async def get(store: TransactionStore) -> TransactionRecord | None:
        stored = await store.get(correlation_id)
        return None if stored is None else stored.record

    record = with_store(config, get)
    if record is None:
        fail(f"no transaction {correlation_id!r} in {mask_url(config.url)}")
    if record.finished:
        fail(
            f"transaction {correlation_id!r} already finished ({record.status}): there is nothing to recover"
        )
    if record.name not in found.get(record.kind, {}):
        fail(
            f"transaction {correlation_id!r} is {record.kind} {record.name!r}, which none of the imported "
            f"modules defines (they define {_names(found) or 'nothing'}); --import the module that does"
        )
    return record.kind


def _recover(
    settings_config: PersistenceConfig,
    kinds: list[str],
    found: dict[str, dict[str, type]],
    correlation_id: str | None,
    retry_dead: bool = False,
) -> list[SagaResult | TccResult]:
    settings = settings_with(settings_config)
    results: list[SagaResult | TccResult] = []
    engines: dict[str, type[SagaEngine] | type[TccEngine]] = {"saga": SagaEngine, "tcc": TccEngine}
    for kind in kinds:
        with engines[kind](settings) as engine:
            for cls in found[kind].values():
                engine.register(cls)
            results.extend(engine.recover_sync(correlation_id, retry_dead=retry_dead))
    return results


def _row(result: SagaResult | TccResult) -> tuple[str, str, str, str, str, str]:
    if isinstance(result, SagaResult):
        kind, name, failed = "saga", result.saga_name, result.failed_step
    else:
        kind, name, failed = "tcc", result.tcc_name, result.failed_participant
    style = "green" if result.is_success else "red"
    return (
        result.correlation_id,
        kind,
        name,
        f"[{style}]{result.status.value}[/]",
        failed or "-",
        escape(str(result.error or "")),
    )


def recover(
    correlation_id: Annotated[
        str | None,
        typer.Argument(
            help="Recover only this transaction (default: every one that can be).", show_default=False
        ),
    ] = None,
    imports: Annotated[
        list[str] | None,
        typer.Option(
            "--import",
            help="A module (package.module) or .py file defining @saga / @tcc classes; repeatable.",
            show_default=False,
        ),
    ] = None,
    retry_dead: Annotated[
        bool,
        typer.Option(
            "--retry-dead",
            help="Run the named transaction again although it is DEAD; fix what killed it first.",
        ),
    ] = False,
    store: StoreOption = None,
) -> None:
    """Resume unfinished transactions whose process died (their lease expired).

    Imports the modules, registers every saga and TCC class they define
    with engines on the store, resumes the unfinished transactions of those
    definitions from their checkpoints and shows how each ended.

    Exit codes: 0 recovery ran (each transaction's own outcome is in the
    table); 1 it could not; 2 a bad argument.
    """
    if not imports:
        fail("--import is required: name the modules that define the sagas and TCCs to recover", code=2)
    config = store_config(store)
    found = _definitions(imports)
    if not found["saga"] and not found["tcc"]:
        fail(f"the imported modules define no saga or TCC class: {', '.join(imports)}")
    kinds = [kind for kind, named in found.items() if named]
    if correlation_id is not None:
        kinds = [_check_one(config, correlation_id, found)]
    try:
        if retry_dead and correlation_id is None:
            fail("--retry-dead needs the id of the DEAD transaction to run again", code=2)
        results = _recover(config, kinds, found, correlation_id, retry_dead)
    except FireflyTxError as exc:
        fail(f"{type(exc).__name__}: {exc}")
    where = mask_url(config.url)
    if not results:
        console.print(
            f"nothing to recover in {where}: "
            f"no unfinished transaction of {_names(found)} has an expired lease",
            markup=False,
        )
        return
    table = Table(
        title=f"recovered {len(results)} transaction{'' if len(results) == 1 else 's'} from {where}"
    )
    for column in ("correlation id", "kind", "name", "status", "failed at", "error"):
        table.add_column(column)
    for result in results:
        table.add_row(*_row(result))
    print_table(table)
