"""Compiling the adapter with ECJ on the build runtime and packing a byte-for-byte reproducible jar.

A build record (``bridge-build.json``) is written next to the jar: which compiler and runtime made it,
a digest of what it was made from, and the jar's own digest. The package build uses it to skip
compiling when the jar already matches the sources (an sdist ships both), and ``fireflytx doctor``
shows it. It holds no time and no path, so the same sources give the same record and the same wheel.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ._artifacts import BuildError, Lock, fetch, load_lock
from ._runtime import JavaRuntime, build_java, run

JAR_NAME = "fireflytx-bridge.jar"
INFO_NAME = "bridge-build.json"
ENGINE_LOCK = Path("jars") / "engine-lock.json"
TOOLCHAIN_LOCK = Path("jars") / "toolchain-lock.json"
MAIN_SOURCES = Path("java") / "src" / "main"
# Zip entries carry this time (the earliest a zip can hold) so the bytes depend on the content alone.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
MANIFEST = "Manifest-Version: 1.0\r\nCreated-By: fireflytx build\r\n\r\n"


@dataclass(frozen=True)
class BuildInfo:
    """How the jar next to this record was built."""

    builder: str
    compiler: str
    java: str
    release: int
    sources_sha256: str
    jar_sha256: str


def read_build_info(lib: Path) -> BuildInfo | None:
    """The build record in ``lib``, or None when there is none or it is unreadable."""
    try:
        return BuildInfo(**json.loads((lib / INFO_NAME).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def write_build_info(lib: Path, info: BuildInfo) -> None:
    """Write the build record next to the jar."""
    (lib / INFO_NAME).write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sources_digest(root: Path) -> str | None:
    """One SHA-256 over everything the jar is made from, or None when the sources are not there.

    That is every file under java/src/main (by relative path and content), the engine's locked jars (the
    compile classpath) and the toolchain lock (the compiler).
    """
    main = root / MAIN_SOURCES
    if not main.is_dir():
        return None
    digest = hashlib.sha256()
    files = sorted(p for p in main.rglob("*") if p.is_file())
    for path in files:
        digest.update(path.relative_to(main).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for lock in (ENGINE_LOCK, TOOLCHAIN_LOCK):
        artifacts = load_lock(root / lock).artifacts
        digest.update(json.dumps([asdict(a) for a in artifacts], sort_keys=True).encode())
    return digest.hexdigest()


def compile_java(
    runtime: JavaRuntime, ecj: Path, release: int, classpath: list[Path], sources: Path, out: Path
) -> None:
    """Compile every ``.java`` file under ``sources`` into ``out`` with ECJ.

    ``-proc:none``: the engine jar registers an annotation processor that must not run on our sources;
    ``-g``: full debug information, as Maven's compiler plugin asks for by default.
    """
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(runtime.java),
        "-jar",
        str(ecj),
        "--release",
        str(release),
        "-proc:none",
        "-g",
        "-encoding",
        "UTF-8",
        "-cp",
        os.pathsep.join(str(p) for p in classpath),
        "-d",
        str(out),
        str(sources),
    ]
    run(cmd)


def copy_resources(resources: Path, out: Path) -> None:
    """Copy a Maven ``resources`` directory into the classes directory, as Maven does."""
    if resources.is_dir():
        shutil.copytree(resources, out, dirs_exist_ok=True)


def pack(classes: Path, jar: Path) -> None:
    """Zip ``classes`` into ``jar``, entries sorted, times and modes fixed: equal input, equal bytes."""
    entries = sorted(p.relative_to(classes).as_posix() for p in classes.rglob("*") if p.is_file())
    directories = sorted({parent for entry in entries for parent in _parents(entry)})
    tmp = jar.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        _add(archive, "META-INF/", None)
        _add(archive, "META-INF/MANIFEST.MF", MANIFEST.encode())
        for directory in directories:
            if directory != "META-INF/":
                _add(archive, directory, None)
        for entry in entries:
            if entry != "META-INF/MANIFEST.MF":
                _add(archive, entry, (classes / entry).read_bytes())
    tmp.replace(jar)


def _parents(entry: str) -> list[str]:
    parts = entry.split("/")[:-1]
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _add(archive: zipfile.ZipFile, name: str, data: bytes | None) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.create_system = 3  # Unix, so the modes below mean the same everywhere
    if data is None:
        info.external_attr = (0o40755 << 16) | 0x10
        archive.writestr(info, b"")
    else:
        info.external_attr = 0o100644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, data, compresslevel=9)


def toolchain(root: Path) -> tuple[Lock, Lock]:
    """The engine lock and the toolchain lock of the checkout at ``root``."""
    return load_lock(root / ENGINE_LOCK), load_lock(root / TOOLCHAIN_LOCK)


def build_jar(root: Path, lib: Path, cache: Path) -> BuildInfo:
    """Fetch the compiler and the engine's jars, compile java/src/main and pack ``lib``/fireflytx-bridge.jar.

    Raises:
        BuildError: sources missing, a download or checksum failed, or the compiler reported errors.
    """
    digest = sources_digest(root)
    if digest is None:
        raise BuildError(f"{root / MAIN_SOURCES} is missing: there is nothing to compile the adapter from.")
    engine, tools = toolchain(root)
    compiler = tools.find(str(tools.fields["compiler"]))
    release = int(engine.fields["java_release"])
    runtime = build_java()
    (ecj,) = fetch([compiler], cache)
    classpath = fetch(engine.artifacts, cache)
    lib.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fireflytx-build-") as tmp:
        classes = Path(tmp) / "classes"
        compile_java(runtime, ecj, release, classpath, root / MAIN_SOURCES / "java", classes)
        copy_resources(root / MAIN_SOURCES / "resources", classes)
        pack(classes, lib / JAR_NAME)
    info = BuildInfo(
        builder="ecj",
        compiler=compiler.coordinate,
        java=runtime.describe(),
        release=release,
        sources_sha256=digest,
        jar_sha256=file_sha256(lib / JAR_NAME),
    )
    write_build_info(lib, info)
    return info
