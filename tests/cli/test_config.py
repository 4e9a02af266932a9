"""`fireflytx config init` and `config show`, and `visualize` with a settings file, as a user runs them."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from fireflytx.cli import app
from fireflytx.config import FireflyTxSettings

runner = CliRunner()
ROOT = Path(__file__).parents[2]
PASSWORD = "pa55-w0rd"


@pytest.fixture(autouse=True)
def _no_outside_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where no fireflytx.toml is, with no FIREFLYTX_ variable from the machine."""
    import os

    for name in list(os.environ):
        if name.startswith("FIREFLYTX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _leaves(model: type[BaseModel], prefix: str = "") -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += _leaves(annotation, f"{prefix}{name}.")
        else:
            found.append((f"{prefix}{name}", info.description))
    return found


def _lookup(data: dict[str, object], dotted: str) -> object:
    current: object = data
    for part in dotted.split("."):
        assert isinstance(current, dict)
        current = current[part]
    return current


def test_init_writes_every_setting_with_its_default_and_the_file_loads_back(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "init"])
    assert result.exit_code == 0, result.output
    written = tmp_path / "fireflytx.toml"
    text = written.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    defaults = FireflyTxSettings()
    for dotted, _ in _leaves(FireflyTxSettings):
        section, _, key = dotted.rpartition(".")
        value = _lookup(defaults.model_dump(mode="json"), dotted)
        if value is None:
            assert f"\n# {key} =\n" in text, dotted
        else:
            assert _lookup(data, dotted) == value, dotted
        if section:
            assert f"[{section}]" in text
    assert FireflyTxSettings.from_file(written) == defaults
    assert "# Retries after the first attempt" in text
    assert "# Default: 0." in text


def test_every_setting_has_a_description_for_the_generated_file() -> None:
    from fireflytx._settings_toml import describe

    def infos(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
        out = []
        for name, info in model.model_fields.items():
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                out += infos(annotation, f"{prefix}{name}.")
            else:
                out.append((f"{prefix}{name}", describe(info)))
        return out

    missing = [name for name, text in infos(FireflyTxSettings) if not text]
    assert missing == []


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "custom.toml"
    target.write_text("# mine\n", encoding="utf-8")
    refused = runner.invoke(app, ["config", "init", str(target)])
    assert refused.exit_code == 1
    assert "--force" in refused.stderr
    assert target.read_text(encoding="utf-8") == "# mine\n"
    forced = runner.invoke(app, ["config", "init", str(target), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "[steps]" in target.read_text(encoding="utf-8")


def test_init_production_writes_a_file_that_loads_with_the_profiles_values(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "init", "prod.toml", "--profile", "production"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "prod.toml").read_text(encoding="utf-8")
    assert "the production profile: 60000" in text
    settings = FireflyTxSettings.from_file(tmp_path / "prod.toml")
    assert settings.profile == "production"
    assert settings.persistence.url == "sqlite:///fireflytx.db"
    assert settings.steps.timeout_ms == 60_000
    assert settings.tcc.confirms.retry == 3
    assert settings.jars.offline is True


def test_show_masks_secrets_and_says_where_each_value_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fireflytx.toml").write_text(
        f'profile = "production"\n\n[persistence]\nurl = "redis://:{PASSWORD}@127.0.0.1:6379/0"\n\n'
        "[steps]\nretry = 2\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("FIREFLYTX_EVENTS__KAFKA__SASL_PASSWORD", "kafka-" + PASSWORD)
    monkeypatch.setenv("FIREFLYTX_STEPS__BACKOFF_MS", "250")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert PASSWORD not in out
    assert 'url = "redis://:***@127.0.0.1:6379/0"' in out
    assert 'sasl_password = "***"' in out
    rows = [line.split("#", 1) for line in out.splitlines() if " = " in line]
    lines = {setting.strip(): origin.strip() for setting, origin in rows}
    assert lines["retry = 2"] == "file fireflytx.toml"
    assert lines["backoff_ms = 250"] == "env FIREFLYTX_STEPS__BACKOFF_MS"
    assert lines["recover_on_start = true"] == "profile production"
    assert lines["max_heap = \"512m\""] == "default"

    as_json = runner.invoke(app, ["config", "show", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert PASSWORD not in as_json.stdout
    document = json.loads(as_json.stdout)
    assert document["file"] == "fireflytx.toml"
    assert document["profile"] == "production"
    assert document["settings"]["steps.retry"] == 2
    assert document["settings"]["persistence.url"] == "redis://:***@127.0.0.1:6379/0"
    assert document["settings"]["events.kafka.sasl_password"] == "***"
    assert document["origins"]["steps.backoff_ms"] == "env FIREFLYTX_STEPS__BACKOFF_MS"
    assert document["origins"]["steps.timeout_ms"] == "profile production"
    assert document["origins"]["jvm.max_heap"] == "default"


def test_show_masks_secrets_inside_kafka_options(tmp_path: Path) -> None:
    (tmp_path / "fireflytx.toml").write_text(
        f'[events.kafka.options]\n"client.id" = "orders"\n"ssl.key.password" = "{PASSWORD}"\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    options = json.loads(result.stdout)["settings"]["events.kafka.options"]
    assert options == {"client.id": "orders", "ssl.key.password": "***"}


def test_show_reads_the_file_fireflytx_config_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "conf" / "tx.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text("sync_step_threads = 7\n", encoding="utf-8")
    (tmp_path / "fireflytx.toml").write_text("sync_step_threads = 9\n", encoding="utf-8")
    monkeypatch.setenv("FIREFLYTX_CONFIG", str(elsewhere))
    document = json.loads(runner.invoke(app, ["config", "show", "--json"]).stdout)
    assert document["settings"]["sync_step_threads"] == 7
    assert document["file"] == str(elsewhere)

    monkeypatch.setenv("FIREFLYTX_CONFIG", str(tmp_path / "missing.toml"))
    missing = runner.invoke(app, ["config", "show"])
    assert missing.exit_code == 1
    assert "missing.toml" in missing.stderr
    assert "FIREFLYTX_CONFIG" in missing.stderr


def test_show_names_the_file_and_every_unknown_key(tmp_path: Path) -> None:
    (tmp_path / "fireflytx.toml").write_text('[steps]\nretrys = 2\n\n[jvm]\nheap = "1g"\n', encoding="utf-8")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 1
    assert "settings file fireflytx.toml" in result.stderr
    assert "unknown key 'steps.retrys'; did you mean 'steps.retry'?" in result.stderr
    assert "unknown key 'jvm.heap'" in result.stderr
    assert result.stdout == ""


def test_show_names_a_bad_value_without_showing_a_password(tmp_path: Path) -> None:
    (tmp_path / "fireflytx.toml").write_text(
        f'[persistence]\nurl = "nowhere:/:{PASSWORD}@x"\n\n[steps]\nretry = -1\n', encoding="utf-8"
    )
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 1
    assert "steps.retry: Input should be greater than or equal to 0 (got -1)" in result.stderr
    assert "persistence.url" in result.stderr
    assert PASSWORD not in result.stderr


def test_visualize_shows_the_step_defaults_of_the_settings_file(tmp_path: Path) -> None:
    (tmp_path / "fireflytx.toml").write_text("[steps]\nretry = 4\ntimeout_ms = 2000\n", encoding="utf-8")
    target = str(ROOT / "examples" / "payment_saga.py") + ":PaymentSaga"
    result = runner.invoke(app, ["visualize", target])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # validate-payment says retry=3 and timeout_ms=5000 itself; the others said nothing.
    assert "├─ validate-payment (retry=3, timeout=5s)" in lines
    assert "├─ process-payment (depends_on: validate-payment; retry=4, timeout=2s)" in lines
    plain = runner.invoke(app, ["visualize", target, "--config", str(tmp_path / "none.toml")])
    assert plain.exit_code == 1
    assert "none.toml" in plain.stderr


def test_the_example_settings_file_loads_with_what_it_says() -> None:
    settings = FireflyTxSettings.from_file(ROOT / "examples" / "fireflytx.toml")
    assert (settings.steps.retry, settings.steps.backoff_ms, settings.steps.timeout_ms) == (2, 200, 10_000)
    assert settings.steps.jitter is True
    assert (settings.compensations.retry, settings.compensations.backoff_ms) == (3, 500)
    assert settings.tcc.tries.timeout_ms == 5_000
    assert (settings.tcc.confirms.retry, settings.tcc.cancels.retry) == (5, 3)
    assert settings.persistence.url == "sqlite:///fireflytx-examples.db"


def test_the_readmes_settings_file_loads(tmp_path: Path) -> None:
    import re

    blocks = re.findall(r"```toml\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    assert blocks
    for index, block in enumerate(blocks):
        path = tmp_path / f"readme-{index}.toml"
        path.write_text(block, encoding="utf-8")
        FireflyTxSettings.from_file(path)
