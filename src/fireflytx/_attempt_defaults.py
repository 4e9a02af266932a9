"""Engine-wide defaults of retry, backoff, jitter and timeout, for decorators that leave them out.

A decorator argument left out (``None``) takes the value of the engine's settings section
(``steps``, ``compensations``, ``tcc.tries``, ``tcc.confirms``, ``tcc.cancels``); an argument given,
even one equal to the default, always wins. The defaults here are those the decorators had before
they could be configured, so a class reads the same without settings.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ._limits import MAX_MS, MAX_RETRY

__all__ = [
    "ATTEMPT_FIELDS",
    "AttemptDefaults",
    "SettleDefaults",
    "StepDefaults",
    "TccDefaults",
    "given_or_default",
]


class AttemptDefaults(BaseModel):
    """Retry, backoff and timeout of one attempt kind, when its decorator does not say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retry: int = Field(
        default=0,
        ge=0,
        le=MAX_RETRY,
        description="Retries after the first attempt (any error is retried, timeouts too).",
    )
    backoff_ms: int = Field(default=100, ge=0, le=MAX_MS, description="Pause between attempts, in ms.")
    timeout_ms: int = Field(default=0, ge=0, le=MAX_MS, description="Limit of one attempt, in ms (0: none).")


class StepDefaults(AttemptDefaults):
    """Saga steps: ``@saga_step`` arguments left out take these values."""

    jitter: bool = Field(
        default=False, description="Randomise each pause within backoff_ms * (1 ± jitter_factor)."
    )
    jitter_factor: float = Field(default=0.5, ge=0, le=1, description="Spread of the jitter, 0 to 1.")


class SettleDefaults(AttemptDefaults):
    """Confirms and cancels: 3 retries by default, like the engine's, since they have to succeed.

    A class of its own rather than a field default of ``AttemptDefaults(retry=3)``: a file or
    profile setting only ``timeout_ms`` of a section would otherwise reset its retry to 0.
    """

    retry: int = Field(
        default=3,
        ge=0,
        le=MAX_RETRY,
        description="Retries after the first attempt (any error is retried, timeouts too).",
    )


class TccDefaults(BaseModel):
    """TCC phases: ``@try_method``, ``@confirm_method`` and ``@cancel_method`` arguments left out.

    A phase's timeout comes from its method, else its participant, else ``@tcc(timeout_ms=)``, and
    only when none of them sets one from here.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tries: AttemptDefaults = Field(default=AttemptDefaults(), description="Try methods.")
    confirms: SettleDefaults = Field(
        default=SettleDefaults(),
        description="Confirm methods (3 retries by default: a confirm has to succeed eventually).",
    )
    cancels: SettleDefaults = Field(
        default=SettleDefaults(), description="Cancel methods (3 retries by default)."
    )

    def phase(self, name: str) -> AttemptDefaults:
        """The defaults of phase ``"try"``, ``"confirm"`` or ``"cancel"``."""
        return {"try": self.tries, "confirm": self.confirms, "cancel": self.cancels}[name]


ATTEMPT_FIELDS = ("retry", "backoff_ms", "timeout_ms")


def given_or_default(marker: Any, fields: tuple[str, ...], defaults: BaseModel) -> dict[str, Any]:
    """A marker's settings with the built-in default for each it left out, and the names left out.

    The spec reads as the decorator's author sees it without settings; ``defaulted`` lets an
    engine put its own defaults in their place (see ``_effective``).
    """
    values: dict[str, Any] = {}
    defaulted = []
    for name in fields:
        given = getattr(marker, name)
        if given is None:
            defaulted.append(name)
            given = getattr(defaults, name)
        values[name] = given
    return {**values, "defaulted": frozenset(defaulted)}
