"""Each effective setting, fit to show, with where it came from.

The sources are asked again for what they hold, in the order ``FireflyTxSettings`` ranks them
(environment, file, profile), so a value is credited to the first that has it; what none has is
the built-in default. Arguments to ``FireflyTxSettings(...)`` are not seen here: ``fireflytx config
show`` builds its settings without any.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_settings import EnvSettingsSource

from ._masking import masked
from ._profiles import profile_values
from ._settings_file import CheckedTomlSource
from .config import FireflyTxSettings

__all__ = ["Setting", "effective_settings"]


@dataclass(frozen=True, slots=True)
class Setting:
    """One key: its dotted path, its value as JSON can hold it (secrets masked) and its origin."""

    path: tuple[str, ...]
    value: Any
    origin: str

    @property
    def key(self) -> str:
        """``steps.retry``."""
        return ".".join(self.path)


def _plain(value: Any) -> Any:
    """``value`` as JSON holds it."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _has(data: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    current: Any = data
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return False
        current = current[part]
    return True


def _leaves(model: BaseModel, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _leaves(value, (*prefix, name))
        else:
            yield (*prefix, name), value


def effective_settings(settings: FireflyTxSettings, path: Path | None) -> list[Setting]:
    """Every key of ``settings`` with its masked value and origin; ``path``: the file it read."""
    env = EnvSettingsSource(FireflyTxSettings)()
    file = CheckedTomlSource(FireflyTxSettings, path).toml_data if path is not None else {}
    profile = profile_values(settings.profile)
    found = []
    for where, value in _leaves(settings):
        if _has(env, where):
            origin = "env FIREFLYTX_" + "__".join(where).upper()
        elif _has(file, where):
            origin = f"file {path}"
        elif _has(profile, where):
            origin = f"profile {settings.profile}"
        else:
            origin = "default"
        key = ".".join(where)
        shown = masked(key, value) if isinstance(value, SecretStr) else masked(key, _plain(value))
        found.append(Setting(where, shown, origin))
    return found
