"""``fireflytx validate``: check transaction definitions the way ``@saga`` does, for CI."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ..topology import SagaTopology, topology
from ._common import EXIT_FAILURE, EXIT_USAGE, errors
from ._target import TargetError, load_targets

__all__ = ["validate"]

out = Console(highlight=False, soft_wrap=True)


def _check(target: str) -> dict[str, Any]:
    try:
        classes = load_targets(target)
    except TargetError as exc:
        return {
            "target": target,
            "valid": False,
            "usage_error": exc.usage,
            "error": exc.message,
            "problems": list(exc.problems),
            "transactions": [],
        }
    transactions = []
    for cls in classes:
        shape = topology(cls)
        entry: dict[str, Any] = {"class": cls.__qualname__, "name": shape.name, "kind": shape.kind}
        if isinstance(shape, SagaTopology):
            entry |= {"steps": len(shape.steps), "layers": len(shape.layers)}
        else:
            entry |= {"participants": len(shape.participants)}
        transactions.append(entry)
    return {
        "target": target,
        "valid": True,
        "usage_error": False,
        "error": None,
        "problems": [],
        "transactions": transactions,
    }


def validate(
    targets: Annotated[
        list[str],
        typer.Argument(
            help="path/to/file.py:ClassName, package.module:ClassName, or a file or module alone to check "
            "every transaction it defines.",
            show_default=False,
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Check transaction definitions and list every problem found, on stdout.

    Importing a module runs its decorators, which check step ids, dependencies
    (unknown, cyclic), compensations and signatures. Nothing runs and no JVM
    starts.

    Exit codes: 0 all valid; 1 definition problems or an import failure; 2 a
    target that does not exist or names no transaction (told on stderr).
    """
    reports = [_check(target) for target in targets]
    if as_json:
        valid = all(r["valid"] for r in reports)
        sys.stdout.write(json.dumps({"valid": valid, "targets": reports}, indent=2) + "\n")
    else:
        for report in reports:
            _print(report)
    if any(r["usage_error"] for r in reports):
        raise typer.Exit(EXIT_USAGE)
    if not all(r["valid"] for r in reports):
        raise typer.Exit(EXIT_FAILURE)


def _print(report: dict[str, Any]) -> None:
    target = escape(report["target"])
    if report["valid"]:
        for t in report["transactions"]:
            if t["kind"] == "saga":
                size = f"{_count(t['steps'], 'step')} in {_count(t['layers'], 'layer')}"
            else:
                size = _count(t["participants"], "participant")
            name = f"{escape(t['class'])} ({escape(t['name'])})"
            out.print(f"[green]✓[/] {target}: {name} is a valid {t['kind']}, {size}")
        return
    if report["usage_error"]:
        errors.print(f"[red]error:[/] {target}: {escape(report['error'])}")
        return
    out.print(f"[red]✗[/] {target}: {escape(report['error'])}")
    for problem in report["problems"]:
        out.print(f"    - {escape(problem)}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
