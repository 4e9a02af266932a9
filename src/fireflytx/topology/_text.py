"""Plain-text pieces shared by every view: the box-drawing tree and how times read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Tree", "class_label", "ms_between", "ms_setting", "ms_taken", "plural", "render_tree", "shorten"]


@dataclass(slots=True)
class Tree:
    """A line of text and the lines hanging under it."""

    text: str
    children: list[Tree] = field(default_factory=list)

    def add(self, text: str) -> Tree:
        """Append a child line and return it, to hang more under it."""
        child = Tree(text)
        self.children.append(child)
        return child


def _lines(children: Iterable[Tree], prefix: str) -> list[str]:
    out: list[str] = []
    items = list(children)
    for index, child in enumerate(items):
        last = index == len(items) - 1
        out.append(f"{prefix}{'└─ ' if last else '├─ '}{child.text}")
        out.extend(_lines(child.children, prefix + ("   " if last else "│  ")))
    return out


def render_tree(root: Tree, footer: Iterable[str] = ()) -> str:
    """The tree drawn with box characters, then ``footer`` lines, ending with a newline."""
    return "\n".join([root.text, *_lines(root.children, ""), *footer]) + "\n"


def class_label(cls: type) -> str:
    """A class's qualified name without the ``<locals>`` of the function that defined it."""
    return cls.__qualname__.rsplit("<locals>.", 1)[-1]


def ms_setting(ms: int) -> str:
    """A configured duration as people write it: ``5s``, ``1.5s``, ``250ms``."""
    if ms >= 1000 and ms % 100 == 0:
        seconds = ms / 1000
        return f"{seconds:g}s"
    return f"{ms}ms"


DEFAULT_BACKOFF_MS = 100


def attempt_settings(
    retry: int, backoff_ms: int, timeout_ms: int, jitter_factor: float | None = None
) -> list[str]:
    """Retry, backoff, jitter and timeout words, only for what differs from the defaults.

    Backoff and jitter matter only between attempts, so they are shown only with a retry.
    """
    parts = []
    if retry:
        parts.append(f"retry={retry}")
        if backoff_ms != DEFAULT_BACKOFF_MS:
            parts.append(f"backoff={ms_setting(backoff_ms)}")
        if jitter_factor is not None:
            parts.append(f"jitter=±{jitter_factor:.0%}")
    if timeout_ms:
        parts.append(f"timeout={ms_setting(timeout_ms)}")
    return parts


def ms_taken(ms: float) -> str:
    """A measured duration: ``0.4 ms``, ``12.3 ms``, ``1.25 s``."""
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    return f"{ms:.1f} ms"


def ms_between(start: datetime, moment: datetime) -> float:
    """Milliseconds from ``start`` to ``moment``."""
    return (moment - start).total_seconds() * 1000


def plural(count: int, word: str) -> str:
    """``1 attempt`` / ``3 attempts``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def shorten(text: str, width: int = 80) -> str:
    """One line of at most ``width`` characters, cut with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
