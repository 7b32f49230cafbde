from pathlib import Path

import pytest
import yaml

from coordinator.config import Settings, load_catalog, load_settings, resolve_model_path
from coordinator.errors import ConfigError, ModelNotFoundError

REPO_CATALOG = Path(__file__).resolve().parents[2] / "models.yaml"


@pytest.fixture
def catalog():
    return load_catalog(REPO_CATALOG)


def _settings(tmp_path, **overrides):
    return Settings(_env_file=None, models_dir=tmp_path, **overrides)


def test_the_shipped_catalog_offers_the_documented_quantizations(catalog):
    assert catalog.orpheus.default_quant == "Q8_0"
    assert set(catalog.orpheus.quants) == {"Q8_0", "Q4_K_M", "Q2_K"}
    assert catalog.llm.default_quant == "Q8_0"
    assert set(catalog.llm.quants) == {"Q8_0", "Q4_K_M"}
    assert catalog.orpheus.voices == ["tara", "leah", "jess", "leo", "dan", "mia", "zac", "zoe"]
    assert catalog.orpheus.license == "Apache-2.0" and "Gemma" in catalog.llm.license


def test_the_default_quantization_resolves_inside_models_dir(tmp_path, catalog):
    target = tmp_path / "Orpheus-3b-FT-Q8_0.gguf"
    target.write_bytes(b"GGUF")
    assert resolve_model_path("orpheus", catalog, _settings(tmp_path)) == (target, "Q8_0")


def test_orpheus_quant_from_the_environment_selects_another_file(tmp_path, catalog, monkeypatch):
    monkeypatch.setenv("ORPHEUS_QUANT", "Q4_K_M")
    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    (tmp_path / "Orpheus-3b-FT-Q4_K_M.gguf").write_bytes(b"GGUF")
    path, quant = resolve_model_path("orpheus", catalog, load_settings(_env_file=None))
    assert (path.name, quant) == ("Orpheus-3b-FT-Q4_K_M.gguf", "Q4_K_M")


def test_an_unknown_quantization_lists_the_valid_ones(tmp_path, catalog):
    with pytest.raises(ConfigError, match="unknown llm quantization 'Q3'.*Q8_0, Q4_K_M.*LLM_QUANT"):
        resolve_model_path("llm", catalog, _settings(tmp_path, llm_quant="Q3"))


def test_a_missing_model_names_the_path_and_the_download_command(tmp_path, catalog):
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model_path("orpheus", catalog, _settings(tmp_path, orpheus_quant="Q2_K"))
    message = str(info.value)
    assert str(tmp_path / "Orpheus-3b-FT-Q2_K.gguf") in message
    assert "python scripts/download_models.py --only orpheus --quant Q2_K" in message


def test_a_missing_snac_directory_names_the_download_command(tmp_path, catalog):
    with pytest.raises(ModelNotFoundError, match=r"snac_24khz.*--only snac.*SNAC_MODEL_PATH"):
        resolve_model_path("snac", catalog, _settings(tmp_path))


def test_local_path_overrides_win_over_the_catalog(tmp_path, catalog):
    local = tmp_path / "my-finetune.gguf"
    local.write_bytes(b"GGUF")
    path, quant = resolve_model_path("orpheus", catalog, _settings(tmp_path, orpheus_model_path=local))
    assert (path, quant) == (local, "custom")


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


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw["orpheus"].update(colour="blue"), r"orpheus\.colour"),
        (lambda raw: raw["llm"].pop("quants"), r"llm\.quants"),
        (lambda raw: raw["orpheus"].update(default_quant="Q9"), "default_quant 'Q9'"),
        (lambda raw: raw["orpheus"].update(default_voice="nobody"), "default_voice"),
    ],
)
def test_a_broken_catalog_names_the_field(tmp_path, mutate, message):
    raw = yaml.safe_load(REPO_CATALOG.read_text())
    mutate(raw)
    broken = tmp_path / "models.yaml"
    broken.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=message):
        load_catalog(broken)


def test_a_missing_or_unparsable_catalog_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="MODELS_CONFIG"):
        load_catalog(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("orpheus: [unclosed")
    with pytest.raises(ConfigError, match="cannot read"):
        load_catalog(bad)


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


def test_an_openai_voice_mapped_to_no_voice_of_the_model_is_a_config_error(tmp_path):
    raw = yaml.safe_load(REPO_CATALOG.read_text())
    raw["orpheus"]["openai_voices"]["alloy"] = "nobody"
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(
        ConfigError, match="openai_voices: alloy maps to 'nobody', which is not one of the voices"
    ):
        load_catalog(path)


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
