"""Regenerate jars/engine-lock.json from java/pom.xml.

Runs Maven (with a JDK 25 or newer) to resolve the runtime dependencies of the fireflytx bridge module, then
records each artifact's coordinates, size and SHA-256 as found in the local Maven repository.

Usage:
    python jars/lock.py [--offline]

The JDK is the one the package build uses (hatch_build.find_build_jdk): FIREFLYTX_BUILD_JAVA_HOME, else
JAVA_HOME if it is 25 or newer, else the first /usr/lib/jvm/* entry that is. Only the Python standard
library is used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POM = ROOT / "java" / "pom.xml"
LOCK = ROOT / "jars" / "engine-lock.json"
ENGINE = "org.fireflyframework:fireflyframework-transactional-engine:26.02.06"
JAVA_RELEASE = 25
SCOPES = {"compile", "runtime", "provided", "system", "test", "import"}


def find_jdk() -> Path:
    """The JDK to run Maven with: the build hook's choice (see hatch_build.find_build_jdk)."""
    sys.path.insert(0, str(ROOT))
    from hatch_build import find_build_jdk

    try:
        return find_build_jdk()
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None


def parse_list(text: str) -> list[dict[str, object]]:
    """Parse `dependency:list -DoutputAbsoluteArtifactFilename=true` output."""
    artifacts = []
    for raw in text.splitlines():
        line = raw.strip().split(" -- ", 1)[0]  # drop "-- module x" suffixes
        parts = line.split(":")
        if len(parts) < 6:
            continue
        scope_at = next((i for i in (4, 5) if i < len(parts) and parts[i] in SCOPES), None)
        if scope_at is None:
            continue
        group, artifact, _type = parts[0], parts[1], parts[2]
        classifier = parts[3] if scope_at == 5 else ""
        version = parts[scope_at - 1]
        path = Path(":".join(parts[scope_at + 1 :]))
        data = path.read_bytes()
        artifacts.append(
            {
                "group": group,
                "artifact": artifact,
                "version": version,
                "classifier": classifier,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
        )
    artifacts.sort(key=lambda a: (a["group"], a["artifact"], a["classifier"]))
    return artifacts


def main() -> int:
    """Resolve, hash and write the lock."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", action="store_true", help="run Maven offline (-o)")
    args = parser.parse_args()

    mvn = shutil.which("mvn")
    if mvn is None:
        raise SystemExit("mvn not found on PATH: install Maven (apt-get install maven)")
    env = dict(os.environ, JAVA_HOME=str(find_jdk()))
    # Maven's bundled Guava warns about sun.misc.Unsafe on JDK 24+.
    env["MAVEN_OPTS"] = (env.get("MAVEN_OPTS", "") + " --sun-misc-unsafe-memory-access=allow").strip()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dependencies.txt"
        cmd = [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(POM),
            "dependency:list",
            "-DincludeScope=runtime",
            "-DoutputAbsoluteArtifactFilename=true",
            f"-DoutputFile={out}",
        ]
        if args.offline:
            cmd.insert(1, "-o")
        result = subprocess.run(cmd, env=env, check=False)
        if result.returncode != 0:
            raise SystemExit(f"Maven failed ({result.returncode}): {' '.join(cmd)}")
        artifacts = parse_list(out.read_text(encoding="utf-8"))

    if not any(f"{a['group']}:{a['artifact']}:{a['version']}" == ENGINE for a in artifacts):
        raise SystemExit(f"{ENGINE} is not among the resolved artifacts; is java/pom.xml out of step?")
    lock = {"engine": ENGINE, "java_release": JAVA_RELEASE, "artifacts": artifacts}
    LOCK.write_text(json.dumps(lock, indent=2) + "\n", encoding="utf-8")
    total = sum(int(str(a["size"])) for a in artifacts)
    print(f"wrote {LOCK.relative_to(ROOT)}: {len(artifacts)} artifacts, {total / 1_048_576:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
