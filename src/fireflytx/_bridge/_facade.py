"""The Java facade that builds every engine object, typed for Python.

Python hands the facade strings, numbers and callbacks; Java builds the definitions, engines and
registry, compiled against the pinned engine (see ``EngineFacade.java``). The class is resolved
once per process and typed by the ``EngineFacade`` protocol, since JPype's classes are untyped.
"""

from __future__ import annotations

import threading
from typing import cast

from jpype import JClass

from ._protocol import EngineFacade

_facade: EngineFacade | None = None
_lock = threading.Lock()


def facade() -> EngineFacade:
    """The Java ``EngineFacade`` class (the JVM must be running)."""
    global _facade
    with _lock:
        if _facade is None:
            _facade = cast(EngineFacade, JClass("dev.fireflytx.bridge.EngineFacade"))
        return _facade
