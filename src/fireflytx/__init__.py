"""fireflytx: SAGA and TCC transactions declared in Python, executed in-process by the Firefly engine.

Declare a saga with ``@saga`` on a class and ``@saga_step`` / ``@compensation_step`` on its
methods, then run it with ``await SagaEngine().execute(MySaga, input)``. Declare a TCC with
``@tcc`` on a class whose nested ``@tcc_participant`` classes have ``@try_method``,
``@confirm_method`` and ``@cancel_method`` (or whose own ``try_<id>`` / ``confirm_<id>`` /
``cancel_<id>`` methods carry them), then run it with ``await TccEngine().execute(MyTcc, input)``.
"""

from __future__ import annotations

import logging

from ._markers import FanOutItem, FromStep
from ._outcomes import StepError
from ._progress import ParticipantView, PhaseView, StepView, UnitStatus
from ._saga._context import SagaContext
from ._saga._decorators import compensation_step, saga, saga_step
from ._saga._definition import SagaSpec, StepSpec, definition_of
from ._saga._engine import SagaEngine
from ._saga._results import SagaResult, SagaStatus, StepOutcome, StepStatus
from ._saga._sub_saga import sub_saga
from ._tcc._context import TccContext
from ._tcc._decorators import cancel_method, confirm_method, tcc, tcc_participant, try_method
from ._tcc._definition import TccSpec, tcc_definition_of
from ._tcc._engine import TccEngine
from ._tcc._inputs import TccInputs
from ._tcc._results import (
    TccParticipantOutcome,
    TccParticipantStatus,
    TccPhaseOutcome,
    TccPhaseStatus,
    TccResult,
    TccStatus,
)
from .config import CompensationPolicy, FireflyTxSettings
from .errors import (
    CompensationError,
    DefinitionError,
    EngineError,
    EngineFullError,
    EngineNotStartedError,
    FanOutError,
    FireflyTxError,
    GraphvizNotFoundError,
    InputValidationError,
    JarsError,
    JavaExecutionError,
    JavaNotFoundError,
    JournalError,
    JvmStartError,
    RecordedFailure,
    RenderError,
    SettingsFileError,
    StepFailedError,
    StepTimeoutError,
    SubSagaFailedError,
    TccCancelError,
    TccConfirmError,
    TransactionCancelledError,
    TransactionError,
    UnknownParticipantError,
    UnknownSagaError,
    UnsupportedResultError,
    WorkersStoppedError,
)

__version__ = "0.1.0"

# A library logs; the application decides where logs go.
logging.getLogger("fireflytx").addHandler(logging.NullHandler())

__all__ = [
    "CompensationError",
    "CompensationPolicy",
    "DefinitionError",
    "EngineError",
    "EngineFullError",
    "EngineNotStartedError",
    "FanOutError",
    "FanOutItem",
    "FireflyTxError",
    "FireflyTxSettings",
    "FromStep",
    "GraphvizNotFoundError",
    "InputValidationError",
    "JarsError",
    "JavaExecutionError",
    "JournalError",
    "ParticipantView",
    "PhaseView",
    "RecordedFailure",
    "JavaNotFoundError",
    "JvmStartError",
    "RenderError",
    "SettingsFileError",
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
    "SubSagaFailedError",
    "StepView",
    "TccCancelError",
    "TccConfirmError",
    "TccContext",
    "TccEngine",
    "TccInputs",
    "TccParticipantOutcome",
    "TccParticipantStatus",
    "TccPhaseOutcome",
    "TccPhaseStatus",
    "TccResult",
    "TccSpec",
    "TccStatus",
    "TransactionCancelledError",
    "TransactionError",
    "UnitStatus",
    "UnknownParticipantError",
    "UnknownSagaError",
    "UnsupportedResultError",
    "WorkersStoppedError",
    "__version__",
    "cancel_method",
    "compensation_step",
    "confirm_method",
    "definition_of",
    "saga",
    "saga_step",
    "sub_saga",
    "tcc",
    "tcc_definition_of",
    "tcc_participant",
    "try_method",
]

for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and not isinstance(_obj, str):
        try:
            _obj.__module__ = "fireflytx"
        except (AttributeError, TypeError):
            pass
del _name, _obj
