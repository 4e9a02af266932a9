"""The fireflytx exception tree.

```
FireflyTxError
├── DefinitionError            a saga or TCC class is declared wrongly (all problems listed at once)
│   └── UnknownSagaError       a @sub_saga step names a saga the engine has not registered
├── InputValidationError       the input does not fit a step's (or try method's) annotated input type
│   └── UnknownParticipantError  a TccInputs names a participant the TCC does not have
├── SettingsFileError          a settings file (fireflytx.toml) is unreadable, has unknown keys or bad values
├── RenderError                a diagram could not be drawn (fireflytx.topology)
│   └── GraphvizNotFoundError  an SVG was asked for but Graphviz's `dot` is not installed
├── EngineError
│   ├── JavaNotFoundError      no usable Java 25+ runtime
│   ├── JarsError              engine jars missing, unverifiable or unreachable
│   ├── JvmStartError          the JVM could not be started as configured
│   ├── EngineNotStartedError  an engine was used before initialize() or after shutdown()
│   ├── EngineFullError        max_in_flight runs are in flight and the engine is set to refuse more
│   ├── WorkersStoppedError    a `def` step was handed to an engine's worker threads after they stopped
│   └── JavaExecutionError     the Java engine itself failed (keeps the Java class, message and stack)
└── TransactionError
    ├── StepFailedError        a step (or a TCC try) failed (raised by raise_for_status())
    ├── StepTimeoutError       a step or TCC phase attempt ran past its timeout_ms
    ├── UnsupportedResultError a step or try method returned a value fireflytx cannot carry
    ├── FanOutError            a fan-out step could not list its items, or one of its clones failed
    ├── CompensationError      compensations failed (raised by SagaResult.raise_for_status())
    ├── TccConfirmError        TCC confirms failed: partly committed (raised by TccResult.raise_for_status())
    ├── TccCancelError         TCC cancels failed: reservations left (raised by TccResult.raise_for_status())
    ├── JournalError           a journal did not accept a checkpoint (what it records failed instead)
    ├── RecordedFailure        a failure a crashed run recorded, given back by recovery instead of re-running
    ├── TransactionCancelledError  the caller cancelled the run (recorded on the steps it stopped)
    └── SubSagaFailedError     the child saga of a @sub_saga step did not succeed (that step fails with it)
```

Every error is a plain Python class: none needs the JVM to be imported, raised or pickled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "CompensationError",
    "DefinitionError",
    "EngineError",
    "EngineFullError",
    "EngineNotStartedError",
    "FanOutError",
    "FireflyTxError",
    "GraphvizNotFoundError",
    "InputValidationError",
    "JournalError",
    "JarsError",
    "JavaExecutionError",
    "JavaNotFoundError",
    "JvmStartError",
    "RecordedFailure",
    "RenderError",
    "SettingsFileError",
    "StepFailedError",
    "StepTimeoutError",
    "SubSagaFailedError",
    "TccCancelError",
    "TccConfirmError",
    "TransactionCancelledError",
    "TransactionError",
    "UnknownParticipantError",
    "UnknownSagaError",
    "UnsupportedResultError",
    "WorkersStoppedError",
]


class FireflyTxError(Exception):
    """Base class of every error fireflytx raises on purpose."""


class DefinitionError(FireflyTxError):
    """A saga or TCC class is declared wrongly.

    Raised at decoration or when an engine registers the class, never during a run, so a broken
    definition never reaches the engine. ``problems`` lists every issue found, not just the first.
    """

    def __init__(self, subject: str, problems: Sequence[str]) -> None:
        self.subject = subject
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{subject} has {count} definition {noun}:\n{lines}")

    def __reduce__(self) -> tuple[type[DefinitionError], tuple[str, tuple[str, ...]]]:
        return (type(self), (self.subject, self.problems))


class InputValidationError(FireflyTxError):
    """The input could not be converted to the type a saga step or TCC try method declares for it.

    Checked before anything runs, so nothing has to be compensated or cancelled. For a TCC,
    ``kind`` is ``"tcc"``, ``saga_name`` holds the TCC's name and ``step_id`` the participant id.
    """

    def __init__(self, saga_name: str, step_id: str, expected: str, detail: str, kind: str = "saga") -> None:
        self.saga_name = saga_name
        self.step_id = step_id
        self.expected = expected
        self.detail = detail
        self.kind = kind
        unit = "step" if kind == "saga" else "participant"
        super().__init__(
            f"input of {kind} {saga_name!r} does not fit {unit} {step_id!r}, "
            f"which expects {expected}: {detail}"
        )

    def __reduce__(self) -> tuple[type[InputValidationError], tuple[str, str, str, str, str]]:
        return (type(self), (self.saga_name, self.step_id, self.expected, self.detail, self.kind))


class UnknownParticipantError(InputValidationError):
    """A ``TccInputs`` names a participant the TCC does not have (a typo, or an id renamed since).

    Raised before anything runs. ``known`` lists the TCC's participant ids, in try order.
    """

    def __init__(self, tcc_name: str, participant_id: str, known: Sequence[str]) -> None:
        self.known = tuple(known)
        listed = ", ".join(repr(k) for k in self.known)
        detail = f"TccInputs names participant {participant_id!r}, which tcc {tcc_name!r} does not have"
        super().__init__(tcc_name, participant_id, f"one of {listed}", detail, kind="tcc")
        # The base message reads as a type mismatch; say what is wrong instead.
        self.args = (f"{detail}; its participants are {listed}",)

    def __reduce__(self) -> tuple[type[UnknownParticipantError], tuple[str, str, tuple[str, ...]]]:  # type: ignore[override]
        return (type(self), (self.saga_name, self.step_id, self.known))


class SettingsFileError(FireflyTxError):
    """A settings file cannot be used: it is missing, is not TOML, has unknown keys or bad values.

    ``path`` is the file; ``problems`` lists every issue found in it, each naming its key.
    """

    def __init__(self, path: str, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"settings file {path}:\n{lines}")

    def __reduce__(self) -> tuple[type[SettingsFileError], tuple[str, tuple[str, ...]]]:
        return (type(self), (self.path, self.problems))


class RenderError(FireflyTxError):
    """A topology, run view or timeline could not be drawn in the format asked for."""


class GraphvizNotFoundError(RenderError):
    """SVG output needs Graphviz's ``dot`` program, which is not on ``PATH``.

    Every other format (ASCII, DOT, Mermaid, JSON, the timeline) is drawn without it.
    """

    def __init__(self) -> None:
        super().__init__(
            "SVG output needs Graphviz's `dot` program, which is not on PATH. Install Graphviz "
            "(Debian/Ubuntu: `apt-get install graphviz`; macOS: `brew install graphviz`), or choose "
            "another format: ascii, dot, mermaid or json."
        )

    def __reduce__(self) -> tuple[type[GraphvizNotFoundError], tuple[()]]:
        return (type(self), ())


class EngineError(FireflyTxError):
    """The engine, the JVM or its jars could not do what was asked."""


class JavaNotFoundError(EngineError):
    """No Java runtime of the required version was found."""


class JarsError(EngineError):
    """The engine's jars are missing, do not match the lock file, or cannot be fetched."""


class JvmStartError(EngineError):
    """The JVM could not be started, or is already running with other options."""


class EngineNotStartedError(EngineError):
    """An engine was used before ``initialize()`` or after ``shutdown()``."""


class EngineFullError(EngineError):
    """An engine had ``max_in_flight`` runs in flight and is set to refuse more (``when_full="fail"``).

    Nothing of the refused run ran. ``engine`` names the engine class and ``limit`` its
    ``max_in_flight``; the message names the settings that change the behaviour.
    """

    def __init__(self, engine: str, limit: int) -> None:
        self.engine = engine
        self.limit = limit
        super().__init__(
            f"the {engine} already has {limit} runs in flight, its max_in_flight, and when_full='fail' "
            f"refuses more: retry later, raise max_in_flight (settings.max_in_flight, "
            f"FIREFLYTX_MAX_IN_FLIGHT or {engine}(max_in_flight=...)), or set when_full='wait' "
            f"(settings.when_full, FIREFLYTX_WHEN_FULL or {engine}(when_full='wait')) to queue callers"
        )

    def __reduce__(self) -> tuple[type[EngineFullError], tuple[str, int]]:
        return (type(self), (self.engine, self.limit))


class WorkersStoppedError(EngineError):
    """A plain ``def`` step was handed to an engine's worker threads after the engine stopped them.

    Stopping an engine refuses new ``def`` calls; calls already running run on unseen.
    """


class JavaExecutionError(EngineError):
    """The Java engine failed outside any Python step.

    ``java_class`` and ``java_message`` name the Java exception; ``java_stacktrace`` keeps its
    stack as text. The live Java exception, when there is one, is the ``__cause__``.
    """

    def __init__(self, java_class: str, java_message: str, java_stacktrace: str = "") -> None:
        self.java_class = java_class
        self.java_message = java_message
        self.java_stacktrace = java_stacktrace
        super().__init__(f"{java_class}: {java_message}")

    def __reduce__(self) -> tuple[type[JavaExecutionError], tuple[str, str, str]]:
        return (type(self), (self.java_class, self.java_message, self.java_stacktrace))


class TransactionError(FireflyTxError):
    """A transaction did not end as asked."""


class StepFailedError(TransactionError):
    """A step failed after all its attempts, or a TCC was cancelled because a try failed.

    For a TCC, ``kind`` is ``"tcc"``, ``saga_name`` holds the TCC's name and ``step_id`` the id of
    the participant whose try failed.
    """

    def __init__(
        self,
        saga_name: str,
        correlation_id: str,
        step_id: str,
        attempts: int,
        detail: str,
        kind: str = "saga",
    ) -> None:
        self.saga_name = saga_name
        self.correlation_id = correlation_id
        self.step_id = step_id
        self.attempts = attempts
        self.detail = detail
        self.kind = kind
        where = f"step {step_id!r}" if kind == "saga" else f"the try of participant {step_id!r}"
        super().__init__(
            f"{kind} {saga_name!r} ({correlation_id}) failed at {where} after {attempts} attempt(s): {detail}"
        )

    def __reduce__(self) -> tuple[type[StepFailedError], tuple[str, str, str, int, str, str]]:
        return (
            type(self),
            (self.saga_name, self.correlation_id, self.step_id, self.attempts, self.detail, self.kind),
        )


class StepTimeoutError(TransactionError):
    """One attempt of a step (or compensation) ran longer than its ``timeout_ms``.

    The attempt's Python code is not interrupted if it is synchronous: it runs to its end and its
    result is dropped, so steps must be safe to finish late.
    """

    def __init__(self, step_id: str, timeout_ms: int) -> None:
        self.step_id = step_id
        self.timeout_ms = timeout_ms
        super().__init__(f"step {step_id!r} did not finish within {timeout_ms} ms")

    def __reduce__(self) -> tuple[type[StepTimeoutError], tuple[str, int]]:
        return (type(self), (self.step_id, self.timeout_ms))


class UnsupportedResultError(TransactionError):
    """A step returned a value that is neither JSON-like, a pydantic model nor a dataclass."""

    def __init__(self, step_id: str, type_name: str) -> None:
        self.step_id = step_id
        self.type_name = type_name
        super().__init__(
            f"step {step_id!r} returned a {type_name}; return None, a JSON-like value (dict with str keys, "
            "list, str, int, float, bool), a pydantic model or a dataclass"
        )

    def __reduce__(self) -> tuple[type[UnsupportedResultError], tuple[str, str]]:
        return (type(self), (self.step_id, self.type_name))


class CompensationError(TransactionError):
    """One or more compensations failed; ``failures`` maps step id to the error text."""

    def __init__(self, saga_name: str, correlation_id: str, failures: dict[str, str]) -> None:
        self.saga_name = saga_name
        self.correlation_id = correlation_id
        self.failures = dict(failures)
        listed = ", ".join(f"{k}: {v}" for k, v in self.failures.items())
        super().__init__(f"saga {saga_name!r} ({correlation_id}) could not compensate {listed}")

    def __reduce__(self) -> tuple[type[CompensationError], tuple[str, str, dict[str, str]]]:
        return (type(self), (self.saga_name, self.correlation_id, self.failures))


class TccConfirmError(TransactionError):
    """Confirms failed after their retries: the TCC is partly committed and needs attention.

    ``failures`` maps participant id to the error text of its last confirm attempt. The engine would
    report such a run as a success; fireflytx never does.
    """

    def __init__(self, tcc_name: str, correlation_id: str, failures: dict[str, str]) -> None:
        self.tcc_name = tcc_name
        self.correlation_id = correlation_id
        self.failures = dict(failures)
        listed = ", ".join(f"{k}: {v}" for k, v in self.failures.items())
        super().__init__(f"tcc {tcc_name!r} ({correlation_id}) could not confirm {listed}")

    def __reduce__(self) -> tuple[type[TccConfirmError], tuple[str, str, dict[str, str]]]:
        return (type(self), (self.tcc_name, self.correlation_id, self.failures))


class TccCancelError(TransactionError):
    """Cancels failed after their retries: reservations may still be held and need attention.

    ``failures`` maps participant id to the error text of its last cancel attempt.
    """

    def __init__(self, tcc_name: str, correlation_id: str, failures: dict[str, str]) -> None:
        self.tcc_name = tcc_name
        self.correlation_id = correlation_id
        self.failures = dict(failures)
        listed = ", ".join(f"{k}: {v}" for k, v in self.failures.items())
        super().__init__(f"tcc {tcc_name!r} ({correlation_id}) could not cancel {listed}")

    def __reduce__(self) -> tuple[type[TccCancelError], tuple[str, str, dict[str, str]]]:
        return (type(self), (self.tcc_name, self.correlation_id, self.failures))


class JournalError(TransactionError):
    """A journal raised while recording a checkpoint; the step, compensation or phase it recorded failed.

    ``event`` names the checkpoint (``AttemptFinished``, ``DecisionMade``...); the journal's own
    exception is the ``__cause__``.
    """

    def __init__(self, event: str, journal: object, error: BaseException) -> None:
        self.event = event
        self.journal = repr(journal)
        self.detail = f"{type(error).__name__}: {error}"
        super().__init__(f"journal {self.journal} did not record {event}: {self.detail}")

    def __reduce__(self) -> tuple[type[JournalError], tuple[str, str, BaseException]]:
        return (type(self), (self.event, self.journal, RuntimeError(self.detail)))


class TransactionCancelledError(TransactionError):
    """The run was cancelled by its caller (the task awaiting ``execute`` was cancelled).

    Recorded as the error of every step or try that the cancellation stopped, or that it kept
    from starting; the caller itself gets ``asyncio.CancelledError`` once compensation has ended.
    """

    def __init__(self, unit_id: str) -> None:
        self.unit_id = unit_id
        super().__init__(f"{unit_id!r} was stopped: the run was cancelled by its caller")

    def __reduce__(self) -> tuple[type[TransactionCancelledError], tuple[str]]:
        return (type(self), (self.unit_id,))



class RecordedFailure(TransactionError):
    """A failure that a crashed run had recorded; recovery hands it back instead of running the unit again.

    The original exception object did not survive the crash: ``type_name`` and ``message`` are what
    was stored. A result's ``StepError`` shows the original type name.
    """

    def __init__(self, type_name: str, message: str) -> None:
        self.type_name = type_name
        self.message = message
        super().__init__(message)

    def __reduce__(self) -> tuple[type[RecordedFailure], tuple[str, str]]:
        return (type(self), (self.type_name, self.message))


class FanOutError(TransactionError):
    """A fan-out step failed: its ``fan_out`` could not list the items, or one of its clones failed.

    ``step_id`` is the fan-out step; ``clone_id`` the clone that failed for good (``"ship#2"``), or
    None when the items could not be listed. The selector's or the clone's own exception is the
    ``__cause__``. Clones that had completed were compensated before this error ended the step.
    """

    def __init__(self, step_id: str, reason: str, clone_id: str | None = None) -> None:
        self.step_id = step_id
        self.reason = reason
        self.clone_id = clone_id
        super().__init__(f"fan-out step {step_id!r}: {reason}")

    def __reduce__(self) -> tuple[type[FanOutError], tuple[str, str, str | None]]:
        return (type(self), (self.step_id, self.reason, self.clone_id))


class UnknownSagaError(DefinitionError):
    """A ``@sub_saga`` step names a child saga that is not registered with the engine running it.

    Raised by ``execute`` before anything runs. ``saga_name`` is the saga whose step names the
    child, ``step_id`` that step and ``child`` the name it gave.
    """

    def __init__(self, saga_name: str, step_id: str, child: str) -> None:
        self.saga_name = saga_name
        self.step_id = step_id
        self.child = child
        super().__init__(
            f"saga {saga_name!r}",
            [
                f"step {step_id!r} runs the sub-saga {child!r}, which is not registered with this "
                f"SagaEngine: call engine.register(<the @saga({child!r}) class>) before running it, "
                f"or pass the class itself: @sub_saga({step_id!r}, ThatSaga)"
            ],
        )

    def __reduce__(self) -> tuple[type[UnknownSagaError], tuple[str, str, str]]:  # type: ignore[override]
        return (type(self), (self.saga_name, self.step_id, self.child))


class SubSagaFailedError(TransactionError):
    """The child saga a ``@sub_saga`` step ran did not succeed; the step fails with this.

    The child has already compensated what it completed. ``result`` is the child's ``SagaResult``
    (None once the error was rebuilt from a store or unpickled: the store keeps the child's own
    record under ``correlation_id``).
    """

    def __init__(
        self, saga_name: str, correlation_id: str, status: str, detail: str, result: object = None
    ) -> None:
        self.saga_name = saga_name
        self.correlation_id = correlation_id
        self.status = status
        self.detail = detail
        self.result: Any = result
        super().__init__(f"sub-saga {saga_name!r} ({correlation_id}) ended {status}: {detail}")

    def __reduce__(self) -> tuple[type[SubSagaFailedError], tuple[str, str, str, str]]:
        return (type(self), (self.saga_name, self.correlation_id, self.status, self.detail))
