"""Two commits measured in one sitting: ``python -m benchmarks.compare BASE [--rounds N] [--only CASES]``.

This machine's speed moves several-fold between days and by tens of percent between minutes, so a
recorded run of each commit says little about a change. Here the two sides alternate round by round
(base first in odd rounds, head first in even ones), each in fresh processes running its own
``benchmarks`` package on its own source tree (``--skip-peers``). Each side is a temporary git
worktree whose Java adapter is compiled the package's way (``python -m javabuild jar``): BASE at its
commit, HEAD at this checkout's commit with its uncommitted changes and untracked files copied in
(or ``--head REV`` for another commit), so nothing in this checkout is touched. The report gives,
per case, the median sagas/s of each side, their ratio, and every round's ratio beside it, with the
load average around each run: a ratio whose rounds straddle 1 is noise, not a finding.

Results go to ``benchmarks/results/compare-<time>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
LIB = Path("src") / "fireflytx" / "_bridge" / "lib"


@dataclass(frozen=True, slots=True)
class Side:
    """One commit's source tree and what to call it."""

    label: str
    root: Path


@dataclass(frozen=True, slots=True)
class Round:
    """One side's run in one round: its results by case name, and the load around it."""

    role: str
    """``base`` or ``head``."""
    number: int
    rows: dict[str, dict[str, Any]]
    load_before: float
    load_after: float


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def _worktree(rev: str, path: Path, *, with_changes: bool = False) -> Side:
    """A detached worktree of ``rev`` at ``path`` with its Java adapter built, ready to benchmark.

    ``with_changes``: this checkout's uncommitted changes and untracked files are copied in too.
    """
    commit = _git("rev-parse", "--short=12", rev)
    _git("worktree", "add", "--detach", "--force", str(path), commit)
    label = f"{rev} ({commit})"
    if with_changes:
        diff = subprocess.run(
            ["git", "diff", "--binary", "HEAD"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        if diff:
            subprocess.run(["git", "apply", "--whitespace=nowarn"], cwd=path, input=diff, check=True)
        untracked = _git("ls-files", "--others", "--exclude-standard").splitlines()
        for name in untracked:
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, path / name)
        if diff or untracked:
            label = f"this checkout ({commit} with its uncommitted changes)"
    if (path / "javabuild").is_dir():
        env = dict(os.environ, PYTHONPATH=str(path))
        built = subprocess.run([sys.executable, "-m", "javabuild", "jar"], cwd=path, env=env, check=False)
        how = "`python -m javabuild jar`"
    else:
        built, how = _maven_build(path), "Maven (this commit predates the ECJ build)"
    if built.returncode != 0 or not (path / "jars" / "engine-lock.json").is_file():
        raise SystemExit(
            f"{rev} ({commit}) cannot be benchmarked here: its Java adapter did not build with {how}"
        )
    shutil.copyfile(path / "jars" / "engine-lock.json", path / LIB / "engine-lock.json")
    return Side(label, path)


def _maven_build(path: Path) -> subprocess.CompletedProcess[bytes]:
    """Build an older commit's adapter as its own build hook did: Maven on a JDK 25+ (developers only).

    That commit's ``hatch_build.find_build_jdk`` picks the JDK (``FIREFLYTX_BUILD_JAVA_HOME``,
    ``JAVA_HOME`` or ``/usr/lib/jvm``); ``mvn`` must be on PATH.
    """
    env = dict(os.environ, PYTHONPATH=str(path))
    found = subprocess.run(
        [sys.executable, "-c", "import hatch_build; print(hatch_build.find_build_jdk())"],
        cwd=path, env=env, capture_output=True, text=True, check=False,
    )
    mvn = shutil.which("mvn")
    if found.returncode != 0 or mvn is None or not (path / "java" / "pom.xml").is_file():
        why = found.stderr.strip().splitlines()[-1:] or ["no mvn on PATH, or no java/pom.xml in the commit"]
        print(why[0], file=sys.stderr)
        return subprocess.CompletedProcess(["mvn"], 1)
    env = dict(os.environ, JAVA_HOME=found.stdout.strip())
    env["MAVEN_OPTS"] = f"{env.get('MAVEN_OPTS', '')} --sun-misc-unsafe-memory-access=allow".strip()
    command = [mvn, "-q", "-B", "-DskipTests", "package"]
    built = subprocess.run(command, cwd=path / "java", env=env, check=False)
    jar = path / "java" / "target" / "fireflytx-bridge.jar"
    if built.returncode == 0 and jar.is_file():
        (path / LIB).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(jar, path / LIB / jar.name)
    return built


def _run(side: Side, role: str, number: int, cases: str) -> Round:
    """One run of the suite on ``side``; its rows by name (fireflytx only)."""
    before = os.getloadavg()[0]
    env = dict(os.environ, PYTHONPATH=f"{side.root / 'src'}{os.pathsep}{side.root}")
    out = side.root / "benchmarks" / "results" / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--skip-peers", "--only", cases],
        cwd=side.root, env=env, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0 or not out.is_file():
        raise SystemExit(f"the suite failed on {side.label} (exit {done.returncode}):\n{done.stderr[-2000:]}")
    rows = {r["name"]: r for r in json.loads(out.read_text())["results"] if r.get("system") == "fireflytx"}
    return Round(role, number, rows, before, os.getloadavg()[0])


def _rate(row: dict[str, Any]) -> float | None:
    rate = row.get("sagas_per_s")
    return float(rate) if isinstance(rate, int | float) and rate > 0 else None


def summarize(base: list[Round], head: list[Round]) -> list[dict[str, Any]]:
    """Per case: each side's median sagas/s, their ratio (head ÷ base) and each round's ratio.

    Rounds pair by number; a case missing from a round (it failed there) leaves that round out.
    """
    names = list(dict.fromkeys(name for r in base for name in r.rows))  # every case, in first-seen order
    summary = []
    for name in names:
        pairs = [
            (b_rate, h_rate)
            for b in base
            for h in head
            if h.number == b.number
            and (b_rate := _rate(b.rows.get(name, {}))) is not None
            and (h_rate := _rate(h.rows.get(name, {}))) is not None
        ]
        if not pairs:
            continue
        b_median = statistics.median(b for b, _ in pairs)
        h_median = statistics.median(h for _, h in pairs)
        summary.append({
            "name": name,
            "base_sagas_per_s": b_median,
            "head_sagas_per_s": h_median,
            "ratio": h_median / b_median,
            "round_ratios": [h / b for b, h in pairs],
        })
    return summary


def report(base: Side, head: Side, cases: str, rounds: list[Round], summary: list[dict[str, Any]]) -> str:
    """The comparison as Markdown."""
    loads = ", ".join(f"{r.load_before:.2f}→{r.load_after:.2f}" for r in rounds)
    lines = [
        "# fireflytx: two commits in one sitting",
        "",
        f"- base: {base.label}",
        f"- head: {head.label}",
        f"- cases: {cases}; {len(rounds) // 2} rounds, base first in odd rounds and head first in even ones, "
        "fresh processes each",
        f"- load average (1 min) before→after each run: {loads}",
        "",
        "| case | base sagas/s | head sagas/s | head ÷ base | per round |",
        "|---|---|---|---|---|",
    ]
    for row in summary:
        per_round = ", ".join(f"{r:.2f}" for r in row["round_ratios"])
        lines.append(
            f"| {row['name']} | {row['base_sagas_per_s']:,.0f} | {row['head_sagas_per_s']:,.0f} | "
            f"{row['ratio']:.2f} | {per_round} |"
        )
    lines += [
        "",
        "Medians over the rounds. A ratio whose rounds fall on both sides of 1 is inside this machine's "
        "noise.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.split("\n")[0])
    parser.add_argument("base", help="the commit to compare against (any git revision, e.g. HEAD~1)")
    parser.add_argument("--head", default=None, help="a second revision instead of this checkout as it is")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of both sides (default 5)")
    parser.add_argument("--only", default="chain,throughput,failure,tcc", help="cases, as for the suite")
    parser.add_argument(
        "--head-drivers",
        action="store_true",
        help="time BASE with HEAD's benchmarks/_drivers.py (a change to how cases warm up or are timed)",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    parent = Path(tempfile.mkdtemp(prefix="fireflytx-compare-"))
    made: list[Path] = []
    try:
        if args.head is not None and _git("rev-parse", args.head) == _git("rev-parse", args.base):
            parser.error(f"--head {args.head} is the same commit as {args.base}")
        base = _worktree(args.base, parent / "base")
        made.append(base.root)
        head = _worktree(args.head or "HEAD", parent / "head", with_changes=args.head is None)
        made.append(head.root)
        if args.head_drivers:
            drivers = Path("benchmarks") / "_drivers.py"
            shutil.copyfile(head.root / drivers, base.root / drivers)
            base = Side(f"{base.label}, timed by the head's {drivers.as_posix()}", base.root)
        rounds: list[Round] = []
        for number in range(1, args.rounds + 1):
            # Base first in odd rounds, head first in even ones: a machine that drifts during a
            # round (it warms up, a neighbour starts) favours neither side.
            order = (("base", base), ("head", head))
            for role, side in order if number % 2 else order[::-1]:
                rounds.append(_run(side, role, number, args.only))
                print(f"round {number}: {side.label} done, load {rounds[-1].load_after:.2f}", flush=True)
    finally:
        for path in made:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)
        shutil.rmtree(parent, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=False)  # one that failed to build
    summary = summarize([r for r in rounds if r.role == "base"], [r for r in rounds if r.role == "head"])
    text = report(base, head, args.only, rounds, summary)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    record = {
        "when": stamp, "base": base.label, "head": head.label, "cases": args.only,
        "loads": [[r.load_before, r.load_after] for r in rounds], "summary": summary,
    }
    (RESULTS / f"compare-{stamp}.json").write_text(json.dumps(record, indent=2) + "\n")
    (RESULTS / f"compare-{stamp}.md").write_text(text)
    print(text)
    print(f"wrote {RESULTS / f'compare-{stamp}.md'} and .json")


if __name__ == "__main__":
    main()
