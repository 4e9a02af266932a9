"""What every drawable view shares: one set of formats, and a picture in notebooks."""

from __future__ import annotations

import enum
import html
from abc import abstractmethod
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from ._graph import Graph, to_dot, to_mermaid
from ._svg import dot_program, dot_to_svg, inline_svg
from ._text import Tree, render_tree

__all__ = ["Diagram", "Format"]


class Format(enum.StrEnum):
    """The formats a topology or run view can be drawn in."""

    ASCII = "ascii"
    DOT = "dot"
    MERMAID = "mermaid"
    JSON = "json"
    SVG = "svg"


class Diagram(BaseModel):
    """A frozen, JSON-ready model that can also be drawn.

    The model is the data (``to_json`` is its dump); the drawings are derived from it, so every
    format shows the same facts. ``str()`` gives the ASCII tree; notebooks show the SVG when
    Graphviz is installed and the ASCII tree otherwise.
    """

    model_config = ConfigDict(frozen=True)

    @abstractmethod
    def _tree(self) -> tuple[Tree, Iterable[str]]:
        """The ASCII tree and the lines printed under it."""

    @abstractmethod
    def _graph(self) -> Graph:
        """The diagram as nodes, edges and clusters."""

    def to_ascii(self) -> str:
        """A box-drawing tree for terminals and logs."""
        root, footer = self._tree()
        return render_tree(root, footer)

    def to_dot(self) -> str:
        """Graphviz DOT source (``dot -Tpng``, ``-Tsvg`` … draw it)."""
        return to_dot(self._graph())

    def to_mermaid(self) -> str:
        """A Mermaid flowchart, which GitHub, GitLab and many doc tools render inline."""
        return to_mermaid(self._graph())

    def to_json(self, indent: int | None = 2) -> str:
        """The model itself as JSON, for tools that draw their own pictures."""
        return self.model_dump_json(indent=indent)

    def to_svg(self) -> str:
        """An SVG drawing laid out by Graphviz.

        Raises:
            GraphvizNotFoundError: Graphviz's ``dot`` is not installed.
            RenderError: ``dot`` failed.
        """
        return dot_to_svg(self.to_dot())

    def render(self, format: Format | str = Format.ASCII) -> str:
        """The view in one of the ``Format`` names: ascii, dot, mermaid, json or svg.

        Raises:
            ValueError: an unknown format name.
            GraphvizNotFoundError: ``svg`` without Graphviz installed.
        """
        chosen = Format(format)
        renderers = {
            Format.ASCII: self.to_ascii,
            Format.DOT: self.to_dot,
            Format.MERMAID: self.to_mermaid,
            Format.JSON: self.to_json,
            Format.SVG: self.to_svg,
        }
        return renderers[chosen]()

    def __str__(self) -> str:
        return self.to_ascii()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        text = self.to_ascii()
        if dot_program() is None:
            return {"text/plain": text, "text/html": _pre(text)}
        svg = self.to_svg()
        return {"text/plain": text, "image/svg+xml": svg, "text/html": inline_svg(svg)}

    def _repr_html_(self) -> str:
        if dot_program() is None:
            return _pre(self.to_ascii())
        return inline_svg(self.to_svg())


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"
