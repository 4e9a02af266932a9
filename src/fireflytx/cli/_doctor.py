"""``fireflytx doctor``: is everything an engine needs here, and what would it run with?

Every check looks without changing anything: no download, no JVM start. Required pieces (Python,
        return [Check("bridge jar", "fail", str(exc), "pip install --force-reinstall fireflytx")]
    checks = [_bridge_build(bridge)]
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import __version__
from ..config import FireflyTxSettings
from ..errors import FireflyTxError, SettingsFileError
from ..topology._svg import dot_program
from ._common import EXIT_FAILURE

__all__ = ["doctor", "mask_secrets"]

Status = Literal["ok", "warn", "fail", "info"]

_SECRET_WORDS = r"password|passwd|secret|token|api[_-]?key|credential|private[_-]?key"
_SECRET_KEY = re.compile(_SECRET_WORDS, re.IGNORECASE)
_SECRET_ASSIGNMENT = re.compile(rf"(?P<head>[\w.-]*(?:{_SECRET_WORDS})[\w.-]*=)[^\s,;]+", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+(?P<tail>@)", re.IGNORECASE)
_MASK = "********"
BUILD_RECORD = "bridge-build.json"
_MARK = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]", "info": "[blue]·[/]"}

out = Console(highlight=False, soft_wrap=True)


@dataclass
class Check:
    """One finding: what was looked at, how it stands, and how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def mask_secrets(value: Any, key: str = "") -> Any:
    """``value`` with every field named like a secret masked, and secrets in URLs and ``k=v`` strings."""
    if isinstance(value, dict):
        return {k: mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v, key) for v in value]
    if _SECRET_KEY.search(key) and value not in (None, ""):
        return _MASK
    if isinstance(value, str):
        # Secrets also hide inside strings: "-Djavax.net.ssl.trustStorePassword=…" or "redis://u:pw@host".
        value = _SECRET_ASSIGNMENT.sub(lambda m: f"{m.group('head')}{_MASK}", value)
        return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{_MASK}{m.group('tail')}", value)
    return value


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    data = {"version": version, "executable": sys.executable, "implementation": sys.implementation.name}
    return Check("python", "ok", f"Python {version} ({sys.executable})", data=data)


def _settings() -> tuple[Check, FireflyTxSettings | None]:
    try:
        settings = FireflyTxSettings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fix = "correct the FIREFLYTX_* environment variables named above"
        return Check("settings", "fail", f"FireflyTxSettings() is invalid: {problems}", fix), None
    except SettingsFileError as exc:
        fix = "correct the settings file; `fireflytx config init` writes one with every valid key"
        return Check("settings", "fail", f"settings file {exc.path}: {'; '.join(exc.problems)}", fix), None
    return Check("settings", "ok", "FireflyTxSettings() resolved (values below, secrets masked)"), settings


def _java(settings: FireflyTxSettings) -> Check:
    from .._bridge._java import find_java

    try:
        java = find_java(settings.jvm.java_home)
    except FireflyTxError as exc:
        return Check("java", "fail", str(exc))
    data = {"home": str(java.home), "version": java.version, "major": java.major, "source": java.source}
    return Check("java", "ok", f"Java {java.version} from the {java.source} at {java.home}", data=data)


def _jpype() -> Check:
    try:
        version = metadata.version("JPype1")
    except metadata.PackageNotFoundError:
        return Check("jpype", "fail", "JPype1 is not installed", "pip install JPype1")
    return Check("jpype", "ok", f"JPype1 {version}", data={"version": version})


def _jars(settings: FireflyTxSettings) -> list[Check]:
    from .._bridge import _classpath

    try:
        bridge = _classpath.adapter_jar()
        lock = _classpath.load_lock()
    except FireflyTxError as exc:
        return [Check("bridge jar", "fail", str(exc), "pip install --force-reinstall fireflytx")]
    checks = [_bridge_build(bridge)]
    cache = settings.jars.cache_dir or _classpath.default_cache_dir()
    problems = _classpath.verify(cache, lock)
    data = {
        "cache_dir": str(cache),
        "engine": lock.engine,
        "artifacts": len(lock.artifacts),
        "problems": problems,
    }
    total = len(lock.artifacts)
    altered = [p for p in problems if p.startswith(_classpath.MISMATCH)]
    if not problems:
        checks.append(
            Check("engine jars", "ok", f"all {total} engine jars cached and verified in {cache}", data=data)
        )
    elif altered:
        # An altered or truncated jar is never silently used: the cache was damaged or tampered with.
        detail = "; ".join(altered)
        if len(problems) > len(altered):
            detail += f"; {len(problems) - len(altered)} more not cached"
        fix = "run `fireflytx jars fetch` to replace them, and find out what changed the cache"
        checks.append(Check("engine jars", "fail", detail, fix, data))
    elif settings.jars.offline:
        detail = f"{len(problems)} of {total} jars missing or not matching the lock, and offline mode is on"
        checks.append(
            Check("engine jars", "fail", detail, "run `fireflytx jars fetch` once with network access", data)
        )
    else:
        detail = (
            f"{len(problems)} of {total} jars not cached yet in {cache}; an engine's first start fetches them"
        )
        checks.append(
            Check("engine jars", "warn", detail, "run `fireflytx jars fetch` to download them now", data)
        )
    return checks


def _bridge_build(bridge: Path) -> Check:
    # The package build writes this record next to the jar (see javabuild/_compile.py in the source tree).
    record = bridge.parent / BUILD_RECORD
    data: dict[str, Any] = {"path": str(bridge), "build": None}
    try:
        build = json.loads(record.read_text(encoding="utf-8"))
        how = f"built with {build['compiler']} on {build['java']} for Java {build['release']}"
    except (OSError, ValueError, KeyError, TypeError):
        return Check("bridge jar", "ok", f"{bridge} (how it was built is not recorded)", data=data)
    data["build"] = build
    if hashlib.sha256(bridge.read_bytes()).hexdigest() != build.get("jar_sha256"):
        detail = f"{bridge} does not match its build record ({how}): it was replaced after the build"
        return Check("bridge jar", "warn", detail, "reinstall fireflytx", data)
    return Check("bridge jar", "ok", f"{bridge}, {how}", data=data)


def _graphviz() -> Check:
    program = dot_program()
    if program is None:
        return Check(
            "graphviz",
            "warn",
            "`dot` not found: `--format svg` and SVG pictures in notebooks are unavailable",
            "apt-get install graphviz (macOS: brew install graphviz)",
        )
    try:
        done = subprocess.run([program, "-V"], capture_output=True, text=True, timeout=20, check=False)
        version = (done.stderr or done.stdout).strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("graphviz", "warn", f"{program} could not be run: {exc}", "reinstall graphviz")
    return Check("graphviz", "ok", f"{version} ({program})", data={"path": program, "version": version})


def _services(settings: FireflyTxSettings) -> Check:
    # FireflyTxSettings has no section for an external service yet (no Redis, no Kafka): nothing to reach.
    sections = sorted(type(settings).model_fields)
    return Check(
        "services",
        "info",
        "none configured: no external service in the settings",
        data={"settings_sections": sections},
    )


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(_flatten(value, name + "."))
        else:
            rows.append((name, value))
    return rows


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON on stdout.")] = False,
) -> None:
    """Check this environment: Python, Java, the engine's jars, settings, Graphviz and services.

    Nothing is downloaded and no JVM starts.

    Exit codes: 0 everything required is in place (optional pieces may be
    missing); 1 something required is missing or broken.
    """
    settings_check, settings = _settings()
    checks = [
        _python(),
        Check("fireflytx", "info", f"fireflytx {__version__}", data={"version": __version__}),
    ]
    checks.append(_jpype())
    checks.append(settings_check)
    if settings is not None:
        checks.append(_java(settings))
        checks.extend(_jars(settings))
    checks.append(_graphviz())
    if settings is not None:
        checks.append(_services(settings))
    dumped = mask_secrets(settings.model_dump(mode="json")) if settings is not None else None
    healthy = all(c.status != "fail" for c in checks)
    if as_json:
        report = {"ok": healthy, "checks": [asdict(c) for c in checks], "settings": dumped}
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        _print(checks, dumped, healthy)
    if not healthy:
        raise typer.Exit(EXIT_FAILURE)


def _print(checks: list[Check], settings: dict[str, Any] | None, healthy: bool) -> None:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column()
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for check in checks:
        detail = escape(check.detail) + (f"\n[dim]fix: {escape(check.fix)}[/]" if check.fix else "")
        table.add_row(_MARK[check.status], f"[bold]{check.name}[/]", detail)
    out.print(table)
    if settings is not None:
        out.print("\n[bold]settings[/] (environment variables FIREFLYTX_*, nested with __)")
        for name, value in _flatten(settings):
            out.print(f"  {escape(name)} = {escape(json.dumps(value))}")
    verdict = "[green]ready[/]" if healthy else "[red]something required is missing (see ✗ above)[/]"
    out.print(f"\n{verdict}")
