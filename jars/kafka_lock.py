"""Regenerate jars/kafka-broker-lock.json: the Apache Kafka broker the event tests run against.

The tests start a real single-node Kafka (KRaft mode) from its jars on Maven Central. A generic
resolver picks wrong versions of the broker's dependencies, so Maven resolves them once here and the
lock records every jar with its size and SHA-256; the tests only download by the lock and verify.
SLF4J 2 and a Log4j binding are added because the broker's published poms declare SLF4J 1.7 and no
binding, and a broker that logs nothing cannot say why it did not start.

Usage:
    python jars/kafka_lock.py [--offline]

Needs Maven and a JDK (see jars/lock.py). Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lock import find_jdk, parse_list  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "jars" / "kafka-broker-lock.json"
BROKER = "org.apache.kafka:kafka_2.13:4.4.0"
EXTRA = ("org.slf4j:slf4j-api:2.0.17", "org.apache.logging.log4j:log4j-slf4j2-impl:2.25.5")


def pom() -> str:
    """A throwaway pom whose runtime classpath is the broker's."""
    deps = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"
        for g, a, v in (c.split(":") for c in (BROKER, *EXTRA))
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>local</groupId><artifactId>kafka-broker</artifactId><version>1</version>"
        f"<packaging>pom</packaging><dependencies>{deps}</dependencies></project>"
    )


def main() -> int:
    """Resolve, hash and write the lock."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", action="store_true", help="run Maven offline (-o)")
    args = parser.parse_args()
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SystemExit("mvn not found on PATH: install Maven (apt-get install maven)")
    env = dict(os.environ, JAVA_HOME=str(find_jdk()))
    env["MAVEN_OPTS"] = (env.get("MAVEN_OPTS", "") + " --sun-misc-unsafe-memory-access=allow").strip()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "pom.xml").write_text(pom(), encoding="utf-8")
        out = Path(tmp) / "dependencies.txt"
        cmd = [
            mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(Path(tmp) / "pom.xml"), "dependency:list",
            "-DincludeScope=runtime", "-DoutputAbsoluteArtifactFilename=true", f"-DoutputFile={out}",
        ]
        if args.offline:
            cmd.insert(1, "-o")
        result = subprocess.run(cmd, env=env, check=False)
        if result.returncode != 0:
            raise SystemExit(f"Maven failed ({result.returncode}): {' '.join(cmd)}")
        artifacts = parse_list(out.read_text(encoding="utf-8"))
    lock = {"broker": BROKER, "artifacts": artifacts}
    LOCK.write_text(json.dumps(lock, indent=2) + "\n", encoding="utf-8")
    total = sum(int(str(a["size"])) for a in artifacts)
    print(f"wrote {LOCK.relative_to(ROOT)}: {len(artifacts)} artifacts, {total / 1_048_576:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
