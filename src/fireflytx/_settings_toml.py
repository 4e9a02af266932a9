"""A commented settings file, written from the settings model itself so it cannot drift from it.

Every section and key of ``FireflyTxSettings`` appears with its description and built-in default;
under a profile, the profile's values are written and their built-in defaults named. Keys whose
default is "not set" are written commented out, since TOML has no null.
"""

from __future__ import annotations

import enum
import json
import textwrap
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from ._profiles import profile_values
from .config import FireflyTxSettings

__all__ = ["PRODUCTION_STORE", "render_settings_file", "settings_for_profile"]

PRODUCTION_STORE = "sqlite:///fireflytx.db"
"""The store a generated production file names: production needs one, and cannot guess its path."""

_WIDTH = 100


def settings_for_profile(profile: str) -> FireflyTxSettings:
    """The settings a file generated for ``profile`` holds (neither environment nor file read)."""
    values: dict[str, Any] = {**profile_values(profile), "profile": profile}
    if profile == "production":
        values["persistence"] = {**values.get("persistence", {}), "url": PRODUCTION_STORE}
    return FireflyTxSettings.model_validate(values)


def toml_value(value: Any) -> str:
    """``value`` as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, enum.Enum):
        return toml_value(value.value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, SecretStr):
        return toml_value(value.get_secret_value())
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"no TOML form for {value!r}")


def _model_of(info: FieldInfo) -> type[BaseModel] | None:
    annotation = info.annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _choices(annotation: Any) -> list[str]:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return [str(member.value) for member in candidate]
        if typing.get_origin(candidate) is typing.Literal:
            return [str(v) for v in typing.get_args(candidate)]
    return []


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


def describe(info: FieldInfo) -> str:
    """A field's description, else the first paragraph of its type's docstring (enums have one)."""
    if info.description:
        return info.description
    annotation = info.annotation
    return _first_paragraph(annotation.__doc__) if isinstance(annotation, type) else ""


def _comment(text: str) -> list[str]:
    return [f"# {line}" for line in textwrap.wrap(text, _WIDTH - 2)] if text else []


def _default_line(info: FieldInfo, value: Any, profile: str) -> str:
    builtin = info.get_default(call_default_factory=True)
    line = "Not set by default" if builtin is None else f"Default: {toml_value(builtin)}"
    if value != builtin:
        line += f"; the {profile} profile: {'not set' if value is None else toml_value(value)}"
    choices = _choices(info.annotation)
    if choices:
        line += f". One of: {', '.join(choices)}"
    return line + "."


def _section(model: BaseModel, path: str, profile: str) -> Iterator[str]:
    nested = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if _model_of(info) is not None:
            nested.append((name, info, value))
            continue
        yield ""
        yield from _comment(describe(info))
        yield from _comment(_default_line(info, value, profile))
        yield f"# {name} =" if value is None else f"{name} = {toml_value(value)}"
    for name, info, value in nested:
        dotted = f"{path}.{name}" if path else name
        yield ""
        yield ""
        yield f"[{dotted}]"
        yield from _comment(info.description or _first_paragraph(type(value).__doc__))
        yield from _section(value, dotted, profile)


def render_settings_file(profile: str = "development") -> str:
    """The commented settings file for ``profile``: every key, its description and its default."""
    settings = settings_for_profile(profile)
    head = [
        "# fireflytx settings.",
        "#",
        "# Read from the file FIREFLYTX_CONFIG names, else ./fireflytx.toml. Environment variables",
        "# (FIREFLYTX_STEPS__RETRY=2: the section and key, upper case, joined by __) and arguments to",
        "# FireflyTxSettings(...) override it; the profile's values come next, then the built-in defaults.",
        "# Every key is optional: delete those you do not change. `fireflytx config show` prints the",
        "# settings in effect and where each comes from.",
    ]
    if profile == "production":
        head += [
            "#",
            "# The production profile needs a durable store: persistence.url below names a SQLite file;",
            "# change it to yours (sqlite:///path/file.db or redis://host:port/db).",
        ]
    return "\n".join([*head, *_section(settings, "", profile)]) + "\n"
