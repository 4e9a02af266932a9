"""Settings from a TOML file: which file, what overrides it, profiles, and errors naming file and key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from fireflytx import (
    FireflyTxSettings,
    SettingsFileError,
    cancel_method,
    compensation_step,
    confirm_method,
    definition_of,
    saga,
    saga_step,
    tcc,
    tcc_definition_of,
    tcc_participant,
    try_method,
)
from fireflytx._effective import EffectiveSpecs, effective


@pytest.fixture(autouse=True)
def _clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FIREFLYTX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_arguments_beat_the_environment_which_beats_the_file_which_beats_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = _write(
        tmp_path / "fireflytx.toml",
        'profile = "production"\n[persistence]\nurl = "sqlite:///x.db"\n'
        "[steps]\nretry = 1\nbackoff_ms = 7\njitter = true\n",
    )
    monkeypatch.setenv("FIREFLYTX_STEPS__RETRY", "2")
    monkeypatch.setenv("FIREFLYTX_STEPS__BACKOFF_MS", "8")
    settings = FireflyTxSettings(steps={"retry": 3})
    assert settings.steps.retry == 3  # argument
    assert settings.steps.backoff_ms == 8  # environment
    assert settings.steps.jitter is True  # file
    assert settings.steps.timeout_ms == 60_000  # production profile
    assert settings.steps.jitter_factor == 0.5  # built-in default
    assert FireflyTxSettings.from_file(file).steps.retry == 2


def test_without_a_file_or_environment_the_built_in_defaults_hold() -> None:
    settings = FireflyTxSettings()
    assert settings.profile == "development"
    assert settings.steps.retry == 0 and settings.steps.backoff_ms == 100 and settings.steps.timeout_ms == 0
    assert settings.tcc.confirms.retry == 3 and settings.tcc.tries.retry == 0
    assert settings.persistence.url == "memory://"


def test_fireflytx_config_wins_over_the_local_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "fireflytx.toml", "sync_step_threads = 5\n")
    assert FireflyTxSettings().sync_step_threads == 5
    other = _write(tmp_path / "other.toml", "sync_step_threads = 6\n")
    monkeypatch.setenv("FIREFLYTX_CONFIG", str(other))
    assert FireflyTxSettings().sync_step_threads == 6
    assert FireflyTxSettings.from_file(tmp_path / "fireflytx.toml").sync_step_threads == 5


def test_a_missing_named_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREFLYTX_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(SettingsFileError, match="gone.toml") as caught:
        FireflyTxSettings()
    assert "FIREFLYTX_CONFIG" in str(caught.value)
    with pytest.raises(SettingsFileError, match="nope.toml"):
        FireflyTxSettings.from_file(tmp_path / "nope.toml")


def test_unknown_keys_are_named_with_the_file_at_any_depth(tmp_path: Path) -> None:
    file = _write(
        tmp_path / "bad.toml",
        'sync_steps_threads = 4\n[events.kafka]\nbootstrap = "h:9092"\n[tcc.confirm]\nretry = 1\n',
    )
    with pytest.raises(SettingsFileError) as caught:
        FireflyTxSettings.from_file(file)
    error = caught.value
    assert error.path == str(file)
    assert str(file) in str(error)
    assert any("'sync_steps_threads'; did you mean 'sync_step_threads'?" in p for p in error.problems)
    assert any("'events.kafka.bootstrap'" in p and "bootstrap_servers" in p for p in error.problems)
    assert any("'tcc.confirm'; did you mean 'tcc.confirms'?" in p for p in error.problems)
    assert len(error.problems) == 3


def test_a_file_that_is_not_toml_is_named(tmp_path: Path) -> None:
    file = _write(tmp_path / "broken.toml", "[steps\nretry = 2\n")
    with pytest.raises(SettingsFileError, match="not valid TOML") as caught:
        FireflyTxSettings.from_file(file)
    assert caught.value.path == str(file)


def test_bad_values_from_the_file_name_the_file_and_key(tmp_path: Path) -> None:
    file = _write(tmp_path / "values.toml", '[steps]\njitter_factor = 2.0\n[jvm]\nmax_heap = "lots"\n')
    with pytest.raises(SettingsFileError) as caught:
        FireflyTxSettings.from_file(file)
    problems = "\n".join(caught.value.problems)
    assert "steps.jitter_factor: Input should be less than or equal to 1 (got 2.0)" in problems
    assert "jvm.max_heap" in problems


def test_a_bad_environment_value_stays_a_validation_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "fireflytx.toml", "[steps]\nretry = 1\n")
    monkeypatch.setenv("FIREFLYTX_STEPS__RETRY", "-1")
    with pytest.raises(ValidationError):
        FireflyTxSettings()


def test_the_production_profile_needs_a_durable_store(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="production profile needs a durable store"):
        FireflyTxSettings(profile="production")
    monkeypatch.setenv("FIREFLYTX_PROFILE", "production")
    monkeypatch.setenv("FIREFLYTX_PERSISTENCE__URL", "sqlite:///orders.db")
    settings = FireflyTxSettings()
    assert settings.profile == "production"
    assert settings.jars.offline is True
    assert settings.persistence.recover_on_start is True
    assert settings.compensations.timeout_ms == 60_000
    assert settings.tcc.cancels.timeout_ms == 60_000
    assert settings.tcc.cancels.retry == 3
    assert FireflyTxSettings(profile="development").steps.timeout_ms == 0


def test_the_profile_can_come_from_the_file_and_an_unknown_one_is_refused(tmp_path: Path) -> None:
    file = _write(tmp_path / "p.toml", 'profile = "production"\n[persistence]\nurl = "sqlite:///p.db"\n')
    assert FireflyTxSettings.from_file(file).jars.offline is True
    assert FireflyTxSettings.from_file(file, jars={"offline": False}).jars.offline is False
    with pytest.raises(SettingsFileError, match="profile"):
        FireflyTxSettings.from_file(_write(tmp_path / "q.toml", 'profile = "staging"\n'))


def test_a_section_setting_one_key_keeps_the_sections_other_defaults(tmp_path: Path) -> None:
    file = _write(tmp_path / "t.toml", "[tcc.confirms]\ntimeout_ms = 500\n")
    confirms = FireflyTxSettings.from_file(file).tcc.confirms
    assert (confirms.retry, confirms.backoff_ms, confirms.timeout_ms) == (3, 100, 500)


# -- what an engine makes of a definition with these defaults (no JVM needed) -------------------


@saga("defaults-saga")
class DefaultsSaga:
    @saga_step("silent")
    def silent(self) -> None: ...

    @saga_step("explicit", retry=0, backoff_ms=100, timeout_ms=0, jitter=False)
    def explicit(self) -> None: ...

    @compensation_step("silent")
    def undo(self) -> None: ...

    @saga_step("named", compensate="undo_named", backoff_ms=9)
    def named(self) -> None: ...

    def undo_named(self) -> None: ...


def test_decorators_record_what_they_left_out() -> None:
    spec = definition_of(DefaultsSaga)
    assert spec.step("silent").defaulted == {"retry", "backoff_ms", "timeout_ms", "jitter", "jitter_factor"}
    assert spec.step("explicit").defaulted == {"jitter_factor"}
    assert spec.step("silent").retry == 0 and spec.step("silent").backoff_ms == 100
    named = spec.step("named").compensation
    assert named is not None and named.defaulted == {"retry", "timeout_ms"} and named.backoff_ms == 9


def test_effective_fills_only_what_the_decorators_left_out() -> None:
    settings = FireflyTxSettings(
        steps={"retry": 4, "backoff_ms": 20, "timeout_ms": 900, "jitter": True, "jitter_factor": 0.2},
        compensations={"retry": 2, "backoff_ms": 30, "timeout_ms": 800},
    )
    spec = effective(definition_of(DefaultsSaga), settings)
    silent, explicit = spec.step("silent"), spec.step("explicit")
    assert (silent.retry, silent.backoff_ms, silent.timeout_ms, silent.jitter, silent.jitter_factor) == (
        4, 20, 900, True, 0.2,
    )
    assert (explicit.retry, explicit.backoff_ms, explicit.timeout_ms, explicit.jitter) == (0, 100, 0, False)
    assert explicit.jitter_factor == 0.2
    assert silent.compensation is not None and silent.compensation.retry == 2
    assert silent.compensation.timeout_ms == 800 and silent.compensation.backoff_ms == 30
    named = spec.step("named").compensation
    assert named is not None and (named.retry, named.backoff_ms) == (2, 9)
    assert spec.steps[0] is spec.step("silent")


def test_an_engine_reuses_one_effective_spec_and_built_in_defaults_change_nothing() -> None:
    original = definition_of(DefaultsSaga)
    assert effective(original, FireflyTxSettings()) is original
    specs = EffectiveSpecs(FireflyTxSettings(steps={"retry": 1}))
    first = specs(original)
    assert first is not original and first.step("silent").retry == 1
    assert specs(original) is first


@tcc("defaults-tcc")
class DefaultsTcc:
    @tcc_participant("silent")
    class Silent:
        @try_method
        def reserve(self) -> None: ...

        @confirm_method
        def confirm(self) -> None: ...

        @cancel_method(retry=3)
        def cancel(self) -> None: ...

    @tcc_participant("bounded", timeout_ms=1_000)
    class Bounded:
        @try_method(timeout_ms=0)
        def reserve(self) -> None: ...

        @confirm_method
        def confirm(self) -> None: ...

        @cancel_method
        def cancel(self) -> None: ...


@tcc("tcc-level-timeout", timeout_ms=2_000)
class TccLevelTimeout:
    @tcc_participant("p")
    class P:
        @try_method
        def reserve(self) -> None: ...

        @confirm_method
        def confirm(self) -> None: ...

        @cancel_method
        def cancel(self) -> None: ...


def test_tcc_phases_take_the_defaults_after_method_participant_and_tcc() -> None:
    settings = FireflyTxSettings(
        tcc={
            "tries": {"retry": 2, "timeout_ms": 50},
            "confirms": {"retry": 5, "timeout_ms": 60},
            "cancels": {"retry": 6, "timeout_ms": 70},
        }
    )
    spec = effective(tcc_definition_of(DefaultsTcc), settings)
    silent, bounded = spec.participant("silent"), spec.participant("bounded")
    assert (silent.try_phase.retry, silent.try_phase.timeout_ms) == (2, 50)
    assert (silent.confirm_phase.retry, silent.confirm_phase.timeout_ms) == (5, 60)
    assert (silent.cancel_phase.retry, silent.cancel_phase.timeout_ms) == (3, 70)
    assert bounded.try_phase.timeout_ms == 0
    assert bounded.confirm_phase.timeout_ms == 1_000 and bounded.confirm_phase.retry == 5
    level = effective(tcc_definition_of(TccLevelTimeout), settings).participant("p")
    assert [level.phase(p).timeout_ms for p in ("try", "confirm", "cancel")] == [2_000, 2_000, 2_000]
