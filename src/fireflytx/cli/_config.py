"""``fireflytx config``: write a commented settings file, or show the settings in effect."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from .._settings_file import DEFAULT_FILE, settings_file
from .._settings_origin import Setting, effective_settings
from .._settings_toml import render_settings_file, toml_value
from ..config import FireflyTxSettings
from ..errors import SettingsFileError
from ._common import errors, fail, write_out

__all__ = ["config_app", "load_settings_or_exit"]

config_app = typer.Typer(
    help="Write a commented settings file (fireflytx.toml), or show the settings in effect.",
    no_args_is_help=True,
)


class ProfileName(enum.StrEnum):
    """The named profiles (see the README's Configuration section)."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


@config_app.command("init")
def init(
    path: Annotated[
        Path, typer.Argument(help="Where to write the file.", show_default=True)
    ] = Path(DEFAULT_FILE),
    profile: Annotated[
        ProfileName, typer.Option("--profile", help="Whose defaults the file starts from.")
    ] = ProfileName.DEVELOPMENT,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a settings file listing every setting with its description and default.

    Exit codes: 0 written; 1 the file exists (without --force) or cannot be written.
    """
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    try:
        path.write_text(render_settings_file(profile.value), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    errors.print(f"wrote {path} ({profile.value} profile); `fireflytx config show` prints what is in effect")


def load_settings_or_exit(config: Path | None) -> tuple[FireflyTxSettings, Path | None]:
    """The settings in effect (read from ``config`` if given) and the file read; exit 1 if invalid."""
    try:
        path = settings_file(config)
        settings = FireflyTxSettings.from_file(path) if path is not None else FireflyTxSettings()
    except SettingsFileError as exc:
        fail(f"settings file {exc.path} cannot be used", problems=exc.problems)
    except ValidationError as exc:
        problems = tuple(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        fail("the settings are invalid", problems=problems)
    return settings, path


def _text(rows: list[Setting], path: Path | None, profile: str) -> str:
    out = [f"# settings file: {path if path is not None else 'none'}", f"# profile: {profile}"]
    section: tuple[str, ...] | None = ()
    width = min(max(len(r.path[-1]) + len(_shown(r.value)) for r in rows) + 4, 60)
    for row in rows:
        where = row.path[:-1]
        if where != section:
            out += ["", f"[{'.'.join(where)}]"]
            section = where
        line = f"{row.path[-1]} = {_shown(row.value)}" if row.value is not None else f"# {row.path[-1]} ="
        out.append(f"{line.ljust(width)}# {row.origin}")
    return "\n".join(out) + "\n"


def _shown(value: Any) -> str:
    return "(not set)" if value is None else toml_value(value)


@config_app.command("show")
def show(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object instead of TOML-like text.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Read this settings file instead of $FIREFLYTX_CONFIG or ./fireflytx.toml.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the settings in effect here and where each comes from (env, file, profile, default).

    Secrets are masked: SecretStr values, passwords in URLs, and values whose key names a password,
    secret, token or credential.

    Exit codes: 0 shown; 1 the settings file or a setting is invalid (problems on stderr).
    """
    settings, path = load_settings_or_exit(config)
    rows = effective_settings(settings, path)
    if as_json:
        document = {
            "file": None if path is None else str(path),
            "profile": settings.profile,
            "settings": {r.key: r.value for r in rows},
            "origins": {r.key: r.origin for r in rows},
        }
        write_out(json.dumps(document, indent=2), None, "settings")
    else:
        write_out(_text(rows, path, settings.profile), None, "settings")
