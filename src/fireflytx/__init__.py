"""fireflytx: SAGA transactions declared in Python, executed in-process by the Firefly engine.

Declare a saga with ``@saga`` on a class and ``@saga_step`` / ``@compensation_step`` on its
methods, then run it with ``await SagaEngine().execute(MySaga, input)``.
"""

from __future__ import annotations

import logging

from ._context import FromStep, SagaContext
from ._decorators import compensation_step, saga, saga_step
from ._definition import SagaSpec, StepSpec, definition_of
from ._engine import SagaEngine
from ._results import SagaResult, SagaStatus, StepError, StepOutcome, StepStatus
from .config import CompensationPolicy, FireflyTxSettings
from .errors import (
    CompensationError,
    DefinitionError,
    FireflyTxError,
    InputValidationError,
    JavaExecutionError,
    StepFailedError,
    StepTimeoutError,
    UnsupportedResultError,
)

__version__ = "0.1.0"

# A library logs; the application decides where logs go.
logging.getLogger("fireflytx").addHandler(logging.NullHandler())

__all__ = [
    "CompensationError",
    "CompensationPolicy",
    "DefinitionError",
    "FireflyTxError",
    "FireflyTxSettings",
    "FromStep",
    "InputValidationError",
    "JavaExecutionError",
    "SagaContext",
    "SagaEngine",
    "SagaResult",
    "SagaSpec",
    "SagaStatus",
    "StepError",
    "StepFailedError",
    "StepOutcome",
    "StepSpec",
    "StepStatus",
    "StepTimeoutError",
    "UnsupportedResultError",
    "__version__",
    "compensation_step",
    "definition_of",
    "saga",
    "saga_step",
]

for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and not isinstance(_obj, str):
        try:
            _obj.__module__ = "fireflytx"
        except (AttributeError, TypeError):
            pass
del _name, _obj
