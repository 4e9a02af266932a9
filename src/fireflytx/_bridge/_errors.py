"""Java exceptions become fireflytx errors here, and only here, keeping the cause."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import JavaExecutionError


def stack_text(throwable: Any) -> str:
    """The Java stack trace of ``throwable`` as text."""
    from jpype import JClass

    writer = JClass("java.io.StringWriter")()
    throwable.printStackTrace(JClass("java.io.PrintWriter")(writer))
    return str(writer.toString())


def to_python(throwable: Any) -> JavaExecutionError:
    """A ``JavaExecutionError`` naming the Java class, message and stack."""
    message = throwable.getMessage()
    return JavaExecutionError(
        str(throwable.getClass().getName()), "" if message is None else str(message), stack_text(throwable)
    )


@contextmanager
def map_java_errors() -> Iterator[None]:
    """Re-raise any Java exception escaping the block as ``JavaExecutionError`` from it."""
    import jpype

    try:
        yield
    except jpype.JException as exc:
        raise to_python(exc) from exc
