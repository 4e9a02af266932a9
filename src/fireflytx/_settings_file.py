"""The settings file: which one is read, and errors that name it and the key at fault.

The file is ``FIREFLYTX_CONFIG`` if that is set (it must exist), else ``./fireflytx.toml`` if the
working directory has one, else none. pydantic-settings reads it (``TomlConfigSettingsSource``);
this module adds what its errors lack: the file's path, and every unknown key by its dotted name
with the nearest known one, since a misspelt key would otherwise vanish into a generic
"extra inputs are not permitted".
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, TomlConfigSettingsSource

from ._masking import masked
from .errors import SettingsFileError

__all__ = ["CONFIG_ENV", "DEFAULT_FILE", "CheckedTomlSource", "file_problems", "settings_file"]

CONFIG_ENV = "FIREFLYTX_CONFIG"
DEFAULT_FILE = "fireflytx.toml"


def settings_file(explicit: Path | None = None) -> Path | None:
    """The settings file to read: ``explicit``, else ``$FIREFLYTX_CONFIG``, else ``./fireflytx.toml``.

    Raises:
        SettingsFileError: the file named explicitly or by ``FIREFLYTX_CONFIG`` does not exist.
    """
    if explicit is not None:
        named, why = Path(explicit), "given"
    elif os.environ.get(CONFIG_ENV):
        named, why = Path(os.environ[CONFIG_ENV]), f"named by {CONFIG_ENV}"
    else:
        local = Path(DEFAULT_FILE)
        return local if local.is_file() else None
    if not named.is_file():
        raise SettingsFileError(str(named), [f"the file {why} does not exist (or is not a file)"])
    return named


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def unknown_keys(model: type[BaseModel], data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Each key of ``data`` (at any depth) that names no field, with the nearest field's name."""
    problems = []
    fields = model.model_fields
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        field = fields.get(key)
        if field is None:
            near = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {prefix + near[0]!r}?" if near else ""
            known = ", ".join(fields)
            section = f"[{prefix[:-1]}]" if prefix else "the top level"
            problems.append(f"unknown key {dotted!r}{hint} (known keys of {section}: {known})")
            continue
        sub = _model_of(field.annotation)
        if sub is not None and isinstance(value, Mapping):
            problems += unknown_keys(sub, value, f"{dotted}.")
    return problems


class CheckedTomlSource(TomlConfigSettingsSource):
    """pydantic-settings' TOML source, failing with the file's path on bad TOML or unknown keys."""

    def __init__(self, settings_cls: type[BaseSettings], toml_file: Path) -> None:
        self._file = toml_file
        super().__init__(settings_cls, toml_file)
        problems = unknown_keys(settings_cls, self.toml_data)
        if problems:
            raise SettingsFileError(str(toml_file), problems)

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        try:
            # pydantic-settings < 2.15 declares Path here, later versions Path | Traversable.
            return super()._read_file(cast(Path, file_path))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsFileError(str(file_path), [f"not valid TOML: {exc}"]) from None
        except OSError as exc:
            raise SettingsFileError(str(file_path), [f"cannot be read: {exc.strerror or exc}"]) from None


def _holds(data: Mapping[str, Any], loc: tuple[int | str, ...]) -> bool:
    if not loc:
        return False  # a check across fields: no single key of the file is at fault
    current: Any = data
    for part in loc:
        if not isinstance(current, Mapping) or part not in current:
            return False
        current = current[part]
    return True


def file_problems(
    path: Path, data: Mapping[str, Any], exc: ValidationError, overriding: tuple[Mapping[str, Any], ...] = ()
) -> SettingsFileError | None:
    """``exc`` as an error naming the file, if any of its problems is a value the file set.

    ``overriding``: what the sources above the file (arguments, environment) hold; a key they set
    did not come from the file even when the file has it too.
    """

    def from_file(loc: tuple[int | str, ...]) -> bool:
        return _holds(data, loc) and not any(_holds(above, loc) for above in overriding)

    if not any(from_file(tuple(e["loc"])) for e in exc.errors()):
        return None
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        key = ".".join(str(part) for part in loc) or "settings"
        if from_file(loc):
            problems.append(f"{key}: {error['msg']} (got {masked(key, error['input'])!r})")
        else:
            problems.append(f"{key}: {error['msg']} (not from this file)")
    return SettingsFileError(str(path), problems)
