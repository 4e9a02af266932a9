"""Graphviz as an optional program: found on ``PATH`` when SVG is asked for, never imported."""

from __future__ import annotations

import shutil
import subprocess

from ..errors import GraphvizNotFoundError, RenderError

__all__ = ["dot_program", "dot_to_svg", "inline_svg"]

_TIMEOUT_S = 60


def dot_program() -> str | None:
    """Path of Graphviz's ``dot``, or None when it is not installed."""
    return shutil.which("dot")


def dot_to_svg(dot_source: str) -> str:
    """Lay out DOT source with ``dot -Tsvg``.

    Raises:
        GraphvizNotFoundError: ``dot`` is not on ``PATH``.
        RenderError: ``dot`` rejected the source or did not finish in time.
    """
    program = dot_program()
    if program is None:
        raise GraphvizNotFoundError()
    try:
        done = subprocess.run(
            [program, "-Tsvg"],
            input=dot_source.encode("utf-8"),
            capture_output=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"Graphviz `dot` did not finish within {_TIMEOUT_S} s") from exc
    except OSError as exc:
        raise RenderError(f"Graphviz `dot` ({program}) could not be run: {exc}") from exc
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"Graphviz `dot` failed with exit code {done.returncode}: {detail}")
    return done.stdout.decode("utf-8")


def inline_svg(svg: str) -> str:
    """An SVG document without its XML prolog and DOCTYPE, for embedding in HTML."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg
