"""Developer tasks; `scripts/test-all.sh` runs the same checks for CI in one environment."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "types", "java", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[dev,redis,test-services]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "benchmarks")


@nox.session
def types(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def java(session: nox.Session) -> None:
    java_home = session.run("python", "hatch_build.py", "--print-java-home", silent=True, external=True)
    assert isinstance(java_home, str)
    session.chdir("java")
    session.run("mvn", "-q", "-B", "verify", external=True, env={"JAVA_HOME": java_home.strip()})


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmark suite and record the results under benchmarks/results/."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def store_bench(session: nox.Session) -> None:
    """Checkpoint writes per second and recovery scans of the transaction stores (SQLite, Redis)."""
    session.install("-e", ".[redis,test-services]")
    session.run("python", "-m", "benchmarks.store_bench", *session.posargs)
