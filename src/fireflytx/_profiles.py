"""Named profiles: a set of defaults chosen with ``profile = "production"`` or ``FIREFLYTX_PROFILE``.

A profile only changes defaults: the settings file, the environment and constructor arguments
still override each of its values. ``development`` changes nothing. ``production`` is what a
service should not run without: a durable store (checked; it cannot guess a path), recovery of
orphaned transactions when an engine starts, no jar downloads at run time (fetch them when the
image is built: ``fireflytx jars fetch``), and a limit on every attempt, so that a hung call
ends in a retry or a compensation instead of holding its transaction forever.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

__all__ = ["PRODUCTION_TIMEOUT_MS", "PROFILES", "Profile", "ProfileSource", "profile_values"]

Profile = Literal["development", "production"]

PRODUCTION_TIMEOUT_MS = 60_000
"""Limit of one attempt of a step, compensation or TCC phase under ``production`` (60 s)."""

_ATTEMPT = {"timeout_ms": PRODUCTION_TIMEOUT_MS}

PROFILES: Mapping[str, Mapping[str, Any]] = {
    "development": {},
    "production": {
        "jars": {"offline": True},
        "persistence": {"recover_on_start": True},
        "steps": dict(_ATTEMPT),
        "compensations": dict(_ATTEMPT),
        "tcc": {"tries": dict(_ATTEMPT), "confirms": dict(_ATTEMPT), "cancels": dict(_ATTEMPT)},
    },
}
"""What each profile sets, by settings path; everything else keeps its built-in default."""


def profile_values(name: str) -> Mapping[str, Any]:
    """The defaults ``name`` sets ({} for an unknown name: the ``profile`` field rejects it)."""
    return PROFILES.get(name, {})


class ProfileSource(PydanticBaseSettingsSource):
    """The chosen profile's defaults, below every other source.

    The profile itself is read from the sources above (arguments, environment, file), highest
    first, since choosing it is their job.
    """

    def __init__(
        self, settings_cls: type[BaseSettings], above: tuple[Callable[[], dict[str, Any]], ...]
    ) -> None:
        super().__init__(settings_cls)
        self._above = above

    def chosen(self) -> str:
        """The profile the sources above choose (``development`` if none does)."""
        for source in self._above:
            value = source().get("profile")
            if isinstance(value, str):
                return value
        return "development"

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return profile_values(self.chosen()).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return copy.deepcopy(dict(profile_values(self.chosen())))
