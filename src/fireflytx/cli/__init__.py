"""The ``fireflytx`` command line: transactions, stored ones, demo runs, jars, doctor and settings."""

from __future__ import annotations

import typer
from rich.markup import escape

from .. import __version__
from ..errors import SettingsFileError
from ._common import errors
from ._config import config_app
from ._demo import demo
from ._doctor import doctor
from ._jars import jars_app
from ._run import run
from ._tx import tx_app
from ._validate import validate
from ._visualize import visualize

app = typer.Typer(
    name="fireflytx",
    help="SAGA and TCC transactions in Python, executed in-process by the Firefly transactional engine.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(visualize)
app.command()(validate)
app.command()(run)
app.command()(doctor)
app.add_typer(jars_app, name="jars")
app.add_typer(tx_app, name="tx")
app.add_typer(config_app, name="config")
app.command()(demo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fireflytx {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """SAGA and TCC transactions in Python, executed in-process by the Firefly transactional engine."""


def main() -> None:
    """Console entry point; Ctrl-C ends any command with one line and exit status 130."""
    try:
        app()
    except SettingsFileError as exc:
        # Any command's FireflyTxSettings() reads the settings file; a broken one is one message.
        errors.print(f"[red]error:[/] {escape(str(exc))}")
        raise SystemExit(1) from None
    except SystemExit as exc:
        if exc.code == 130 and _interrupted(exc):
            errors.print("interrupted")
        raise
    except KeyboardInterrupt:
        errors.print("interrupted")
        raise SystemExit(130) from None


def _interrupted(exc: BaseException) -> bool:
    """Whether Ctrl-C caused ``exc`` (Typer turns ``KeyboardInterrupt`` into a silent exit 130)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
