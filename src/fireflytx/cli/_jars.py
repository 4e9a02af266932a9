"""``fireflytx jars``: fetch, show, verify and clear the engine's cached jars."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ..config import FireflyTxSettings
from ..errors import JarsError

jars_app = typer.Typer(help="Fetch, show, verify and clear the engine's jars.", no_args_is_help=True)
# Messages are lines for people and scripts alike: never hard-wrapped at the terminal width.
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

CacheOption = typer.Option(None, "--cache-dir", help="Jar cache (default: the user cache dir).")


def _cache(cache_dir: Path | None) -> Path:
    from .._bridge import _classpath

    return cache_dir or _classpath.default_cache_dir()


@jars_app.command("fetch")
def fetch(cache_dir: Path | None = CacheOption) -> None:
    """Download every locked jar that is not cached yet, and verify it."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from .._bridge import _classpath

    cache = _cache(cache_dir)
    lock = _classpath.load_lock()
    fetched = 0
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=errors, transient=True
    ) as bar:
        task = bar.add_task("engine jars", total=lock.total_size)

        def progress(artifact: _classpath.Artifact, downloaded: bool) -> None:
            nonlocal fetched
            fetched += downloaded
            bar.update(task, advance=artifact.size, description=artifact.artifact)

        try:
            jars = FireflyTxSettings().jars
            _classpath.fetch(
                cache, progress=progress, timeout_s=jars.download_timeout_s, mirror=jars.maven_mirror
            )
        except JarsError as exc:
            errors.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from exc
    console.print(f"{len(lock.artifacts)} jars ready in {cache} ({fetched} downloaded, all verified)")


@jars_app.command("info")
def info(cache_dir: Path | None = CacheOption) -> None:
    """List the locked artifacts and whether each is cached."""
    from .._bridge import _classpath

    cache = _cache(cache_dir)
    lock = _classpath.load_lock()
    table = Table(title=f"{lock.engine} (Java {lock.java_release}) · cache {cache}")
    for column in ("artifact", "version", "KiB", "cached"):
        table.add_column(column)
    for artifact in lock.artifacts:
        problem = _classpath.check(artifact, cache)
        if problem is None:
            cached = "[green]yes[/]"
        elif problem.startswith(_classpath.MISMATCH):
            cached = f"[red]{_classpath.MISMATCH}[/]"
        else:
            cached = "[red]no[/]"
        name = f"{artifact.group}:{artifact.artifact}"
        table.add_row(name, artifact.version, f"{artifact.size // 1024}", cached)
    console.print(table)
    console.print(f"{len(lock.artifacts)} artifacts, {lock.total_size / 1e6:.1f} MB")


@jars_app.command("verify")
def verify(cache_dir: Path | None = CacheOption) -> None:
    """Check every cached jar against the lock file's SHA-256; exit 1 on any problem."""
    from .._bridge import _classpath

    problems = _classpath.verify(_cache(cache_dir))
    if problems:
        for problem in problems:
            errors.print(f"[red]✗[/] {problem}")
        errors.print("run `fireflytx jars fetch` to repair the cache")
        raise typer.Exit(1)
    console.print(f"all {len(_classpath.load_lock().artifacts)} jars present and verified")


@jars_app.command("clear")
def clear(cache_dir: Path | None = CacheOption) -> None:
    """Delete the jar cache."""
    from .._bridge import _classpath

    cache = _cache(cache_dir)
    freed = _classpath.clear(cache)
    console.print(f"removed {cache} ({freed / 1e6:.1f} MB)")
