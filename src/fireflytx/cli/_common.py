"""What the commands share: where output goes and how failures end a command.

Results go to stdout unchanged (never wrapped or styled, so they can be piped into ``dot`` or a
file); diagnostics go to stderr. Exit codes: 0 ok, 1 a failure or validation problems, 2 a usage
error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from ._target import TargetError, load_target

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "errors", "fail", "load_or_exit", "write_out"]

EXIT_FAILURE = 1
EXIT_USAGE = 2

errors = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, *, problems: tuple[str, ...] = (), code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``error: message`` and any problems on stderr, then exit with ``code``."""
    errors.print(f"[red]error:[/] {escape(message)}")
    for problem in problems:
        errors.print(f"  [red]✗[/] {escape(problem)}")
    raise typer.Exit(code)


def load_or_exit(target: str) -> type:
    """The transaction TARGET names, or exit 2 (bad argument) or 1 (its code failed)."""
    try:
        return load_target(target)
    except TargetError as exc:
        if exc.detail:
            errors.print(escape(exc.detail.rstrip()), style="dim")
        fail(exc.message, problems=exc.problems, code=exc.exit_code)


def write_out(text: str, output: Path | None, what: str) -> None:
    """Write ``text`` to ``output``, or to stdout as is when no file is given."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    errors.print(f"wrote {escape(what)} to {escape(str(output))}")
