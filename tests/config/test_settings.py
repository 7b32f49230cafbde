"""Settings from the environment: parsing, defaults, and one clear error for a malformed variable."""

from pathlib import Path

import pytest

from coordinator.config.settings import Settings, load_settings
from coordinator.errors import ConfigError


def test_blank_environment_values_mean_unset(tmp_path, monkeypatch):
    monkeypatch.setenv("ORPHEUS_MODEL_PATH", "")
    monkeypatch.setenv("N_THREADS", "")
    settings = load_settings(_env_file=None)
    assert settings.orpheus_model_path is None and settings.n_threads is None


def test_a_malformed_environment_variable_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("N_GPU_LAYERS", "all")
    with pytest.raises(ConfigError, match="N_GPU_LAYERS='all'"):
        load_settings(_env_file=None)


def test_log_level_and_format_accept_any_case_and_name_the_choices_otherwise(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    settings = load_settings(_env_file=None)
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="LOG_FORMAT='xml'.*'text' or 'json'"):
        load_settings(_env_file=None)


def test_a_context_too_small_for_an_utterance_is_refused_with_the_fix(monkeypatch):
    monkeypatch.setenv("N_CTX", "1024")
    monkeypatch.setenv("TTS_MAX_TOKENS", "2000")
    with pytest.raises(
        ConfigError, match="TTS_MAX_TOKENS=2000 .* N_CTX=1024: raise N_CTX or lower TTS_MAX_TOKENS"
    ):
        load_settings(_env_file=None)


def test_api_keys_come_comma_separated_and_stay_out_of_reprs(monkeypatch):
    monkeypatch.setenv("API_KEY", " key-one , key.two,, ")
    settings = load_settings(_env_file=None)
    assert settings.api_keys() == ("key-one", "key.two")
    assert "key-one" not in repr(settings) and "key-one" not in str(settings)


def test_no_api_key_means_authentication_off(monkeypatch):
    monkeypatch.setenv("API_KEY", "")
    assert load_settings(_env_file=None).api_keys() == ()


@pytest.mark.parametrize(("value", "message"), [(" , ", "holds no key"), ("abc/def==", "token_urlsafe")])
def test_an_unusable_api_key_is_refused_without_echoing_it(monkeypatch, value, message):
    monkeypatch.setenv("API_KEY", value)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(_env_file=None)
    assert "API_KEY=<hidden>" in str(info.value) and value not in str(info.value)


def test_cors_origins_come_comma_separated(monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, http://localhost:3000")
    assert load_settings(_env_file=None).cors_origins == ["https://a.example", "http://localhost:3000"]
    monkeypatch.setenv("CORS_ORIGINS", "")
    assert load_settings(_env_file=None).cors_origins == []


def test_limits_have_safe_defaults():
    settings = Settings(_env_file=None)
    assert (settings.api_keys(), settings.allow_no_auth, settings.cors_origins) == ((), False, [])
    assert settings.max_body_bytes == 1024 * 1024 and settings.max_completion_tokens == 2048
    assert settings.max_history_messages == 50 and settings.max_ws_sessions == 32


@pytest.mark.parametrize(
    ("value", "parsed"),
    [(None, "auto"), ("AUTO", "auto"), ("1", True), ("0", False), ("true", True), ("off", False)],
)
def test_cpu_weight_repack_is_auto_by_default_and_takes_booleans_as_before(monkeypatch, value, parsed):
    if value is not None:
        monkeypatch.setenv("CPU_WEIGHT_REPACK", value)
    assert load_settings(_env_file=None).cpu_weight_repack == parsed


def test_a_cpu_weight_repack_neither_auto_nor_boolean_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("CPU_WEIGHT_REPACK", "maybe")
    with pytest.raises(ConfigError, match="CPU_WEIGHT_REPACK='maybe'.*must be auto, 1 or 0"):
        load_settings(_env_file=None)


def test_without_models_yaml_here_the_source_trees_catalog_is_used(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = Settings(_env_file=None).catalog_path()
    assert path.is_file() and path.parent == Path(__file__).resolve().parents[2]
    (tmp_path / "models.yaml").write_text("")
    assert Settings(_env_file=None).catalog_path() == Path("models.yaml")
