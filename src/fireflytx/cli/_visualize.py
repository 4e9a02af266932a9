"""``fireflytx visualize``: a transaction's topology, drawn without running it or starting Java."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import RenderError
from ..topology import Format, topology
from ._common import EXIT_USAGE, fail, load_or_exit, write_out
from ._config import load_settings_or_exit

__all__ = ["TARGET_HELP", "visualize"]

TARGET_HELP = "The transaction: path/to/file.py:ClassName or package.module:ClassName."

_BY_SUFFIX = {
    ".txt": Format.ASCII,
    ".dot": Format.DOT,
    ".gv": Format.DOT,
    ".mmd": Format.MERMAID,
    ".mermaid": Format.MERMAID,
    ".json": Format.JSON,
    ".svg": Format.SVG,
}


def format_for(fmt: Format | None, output: Path | None) -> Format:
    """The format asked for, else the one the output file's suffix implies, else ASCII."""
    if fmt is not None:
        return fmt
    if output is None:
        return Format.ASCII
    guessed = _BY_SUFFIX.get(output.suffix.lower())
    if guessed is None:
        known = ", ".join(_BY_SUFFIX)
        fail(
            f"cannot tell the format from {output.name!r} (known suffixes: {known}); add --format",
            code=EXIT_USAGE,
        )
    return guessed


def visualize(
    target: Annotated[str, typer.Argument(help=TARGET_HELP, show_default=False)],
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format",
            "-f",
            help="ascii, dot, mermaid, json, or svg (needs Graphviz). Default: from the --output suffix, "
            "else ascii.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Settings file whose step and TCC defaults to show (default: $FIREFLYTX_CONFIG or "
            "./fireflytx.toml).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Draw a saga's steps and layers, or a TCC's participants and phases, with their settings.

    Nothing runs and no JVM starts. Retries, backoff, jitter and timeouts are those an engine
    started here would use: what the decorators say, else the settings' defaults (the settings
    file and FIREFLYTX_ environment variables).

    Exit codes: 0 drawn; 1 the definition or the import failed (problems on
    stderr); 2 a bad argument.
    """
    chosen = format_for(fmt, output)
    settings, _ = load_settings_or_exit(config)
    cls = load_or_exit(target)
    try:
        text = topology(cls, settings).render(chosen)
    except RenderError as exc:
        fail(str(exc))
    write_out(text, output, f"{chosen.value} topology")
