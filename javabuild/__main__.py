"""``python -m javabuild jar|test|fetch|mvn``: the package build's Java steps, for developers and CI.

``jar`` compiles the adapter into src/fireflytx/_bridge/lib/ as ``pip install .`` does; ``test`` runs
its JUnit tests; ``fetch`` only downloads and verifies the toolchain and the engine's jars; ``mvn ARGS``
runs Maven in java/ on the same Java runtime (for developers who want Maven; it must be on PATH).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ._artifacts import BuildError, cache_dir, fetch
from ._compile import build_jar, toolchain
from ._junit import run_tests
from ._maven import run_maven

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "src" / "fireflytx" / "_bridge" / "lib"


def main(argv: list[str] | None = None) -> int:
    """Run one step; exit 1 with the reason on a BuildError."""
    parser = argparse.ArgumentParser(prog="python -m javabuild", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["jar", "test", "fetch", "mvn"])
    parser.add_argument("maven_args", nargs=argparse.REMAINDER, help="Maven's arguments, after `mvn`")
    args = parser.parse_args(argv)
    if args.maven_args and args.step != "mvn":
        parser.error(f"unexpected arguments after {args.step}: {' '.join(args.maven_args)}")
    cache = cache_dir()
    started = time.monotonic()
    try:
        if args.step == "jar":
            info = build_jar(ROOT, LIB, cache)
            print(f"built {LIB.relative_to(ROOT)}/ with {info.compiler} on {info.java}")
        elif args.step == "test":
            run_tests(ROOT, cache)
        elif args.step == "mvn":
            run_maven(args.maven_args, cwd=ROOT / "java")
        else:
            engine, tools = toolchain(ROOT)
            paths = fetch([*tools.artifacts, *engine.artifacts], cache)
            print(f"{len(paths)} jars cached and verified in {cache}")
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.step}: done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
