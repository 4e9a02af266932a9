"""The fireflytx exception tree.

```
FireflyTxError
├── DefinitionError            a saga class is declared wrongly (all problems listed at once)
├── InputValidationError       the saga input does not fit a step's annotated input type
├── EngineError
│   ├── JavaNotFoundError      no usable Java 25+ runtime
│   ├── JarsError              engine jars missing, unverifiable or unreachable
│   ├── JvmStartError          the JVM could not be started as configured
│   ├── EngineNotStartedError  an engine was used before initialize() or after shutdown()
│   └── JavaExecutionError     the Java engine itself failed (keeps the Java class, message and stack)
└── TransactionError
    ├── StepFailedError        a step failed (raised by SagaResult.raise_for_status())
    ├── StepTimeoutError       a step attempt ran past its timeout_ms
    ├── UnsupportedResultError a step returned a value fireflytx cannot carry
    └── CompensationError      compensations failed (raised by SagaResult.raise_for_status())
```

Every error is a plain Python class: none needs the JVM to be imported, raised or pickled.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CompensationError",
    "DefinitionError",
    "EngineError",
    "EngineNotStartedError",
    "FireflyTxError",
    "InputValidationError",
    "JarsError",
    "JavaExecutionError",
    "JavaNotFoundError",
    "JvmStartError",
    "StepFailedError",
    "StepTimeoutError",
    "TransactionError",
    "UnsupportedResultError",
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
    """The saga input could not be converted to the type a step declares for it.

    Checked before any step runs, so nothing has to be compensated.
    """

    def __init__(self, saga_name: str, step_id: str, expected: str, detail: str) -> None:
        self.saga_name = saga_name
        self.step_id = step_id
        self.expected = expected
        self.detail = detail
        super().__init__(
            f"input of saga {saga_name!r} does not fit step {step_id!r}, which expects {expected}: {detail}"
        )

    def __reduce__(self) -> tuple[type[InputValidationError], tuple[str, str, str, str]]:
        return (type(self), (self.saga_name, self.step_id, self.expected, self.detail))


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
    """A step failed after all its attempts."""

    def __init__(self, saga_name: str, correlation_id: str, step_id: str, attempts: int, detail: str) -> None:
        self.saga_name = saga_name
        self.correlation_id = correlation_id
        self.step_id = step_id
        self.attempts = attempts
        self.detail = detail
        super().__init__(
            f"saga {saga_name!r} ({correlation_id}) failed at step {step_id!r} after {attempts} attempt(s): "
            f"{detail}"
        )

    def __reduce__(self) -> tuple[type[StepFailedError], tuple[str, str, str, int, str]]:
        return (type(self), (self.saga_name, self.correlation_id, self.step_id, self.attempts, self.detail))


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
