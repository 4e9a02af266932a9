"""What the ``fireflytx tx`` commands share: which store, how long ago, and running against it.

Each command is one short process, so it opens the store, does its work and closes it again; a
``memory://`` store would be empty every time and is refused with the reason.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console, RenderableType
from rich.measure import Measurement

from .._persistence._config import PersistenceConfig, mask_url
from .._persistence._errors import PersistenceError
from .._persistence._factory import open_store
from .._persistence._protocol import TransactionStore
from ..config import FireflyTxSettings
from ..errors import SettingsFileError
from ._common import EXIT_USAGE, fail

__all__ = [
    "StoreOption",
    "console",
    "parse_duration",
    "parse_since",
    "print_table",
    "settings_with",
    "store_config",
    "with_store",
]

T = TypeVar("T")

# Tables for people; never hard-wrapped, so a piped line stays one line.
console = Console(soft_wrap=True, highlight=False)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="The transaction store: sqlite:///path/file.db or redis://[:password@]host:port/db "
        "(default: the settings' persistence.url, FIREFLYTX_PERSISTENCE__URL).",
        show_default=False,
    ),
]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d|w)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_STORES = "use sqlite:///path/file.db, redis://host:port/db or rediss:// for TLS"


def _settings() -> FireflyTxSettings:
    try:
        return FireflyTxSettings()
    except SettingsFileError as exc:
        fail(f"settings file {exc.path} cannot be used", problems=exc.problems)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        fail(f"the settings (FIREFLYTX_* environment variables) are invalid: {where}: {first['msg']}")


def store_config(url: str | None) -> PersistenceConfig:
    """The persistence settings with ``url`` as the store (default: the settings' own), or exit."""
    base = _settings().persistence
    config = base
    if url is not None:
        try:
            config = PersistenceConfig.model_validate({**base.model_dump(), "url": url})
        except ValidationError:
            fail(f"--store {mask_url(url)!r} names no transaction store; {_STORES}", code=EXIT_USAGE)
    if not config.durable:
        fail(
            "the transaction store is memory://, and a memory store keeps nothing between processes, "
            "so there is nothing here to list, show, recover or purge: pass --store sqlite:///path/file.db "
            "or --store redis://host:6379/0, or set FIREFLYTX_PERSISTENCE__URL"
        )
    if config.url.startswith("sqlite:///"):
        path = Path(config.url.removeprefix("sqlite:///"))
        if not path.is_file():
            fail(f"no transaction store at {path}: the file does not exist")
    return config


def settings_with(config: PersistenceConfig) -> FireflyTxSettings:
    """The settings, with ``config`` as their persistence section (for engines that recover)."""
    return _settings().model_copy(update={"persistence": config})


def with_store(config: PersistenceConfig, work: Callable[[TransactionStore], Awaitable[T]]) -> T:
    """Open the store, run ``work`` on it and close it; a store failure exits with one line."""

    async def run() -> T:
        store = await open_store(config)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except PersistenceError as exc:
        fail(str(exc))
    except ImportError as exc:
        fail(f"{mask_url(config.url)}: {exc}")


def parse_duration(text: str, option: str) -> float:
    """Seconds in ``30s``, ``15m``, ``12h``, ``7d`` or ``2w``, or exit with a usage error."""
    found = _DURATION.match(text.strip().lower())
    if found is None:
        fail(f"{option} takes a duration such as 30s, 15m, 12h, 7d or 2w, got {text!r}", code=EXIT_USAGE)
    return float(found.group(1)) * _UNIT_S[found.group(2)]


def parse_since(text: str) -> float:
    """The epoch time ``--since`` names: a duration ago (``1h``) or an ISO time (UTC unless it says)."""
    if _DURATION.match(text.strip().lower()):
        return time.time() - parse_duration(text, "--since")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(
            f"--since takes a duration ago (30m, 1h, 7d) or an ISO time such as 2026-01-31T12:00Z, "
            f"got {text!r}",
            code=EXIT_USAGE,
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def print_table(table: RenderableType) -> None:
    """Print a table on stdout; piped or captured, at its natural width instead of squeezed to 80 columns."""
    if console.is_terminal:
        console.print(table)
        return
    width = Measurement.get(console, console.options.update(width=10_000), table).maximum
    Console(soft_wrap=True, highlight=False, width=width).print(table)
