"""Which files the settings pick from the catalog (ORPHEUS_MODELS, the quantizations, local paths),
and a missing one refused with the download command."""

from pathlib import Path

import pytest

from coordinator.config.catalog import load_catalog
from coordinator.config.selection import default_orpheus, resolve_model_path, select_orpheus
from coordinator.config.settings import Settings, load_settings
from coordinator.errors import ConfigError, ModelNotFoundError
from coordinator.runtime.download import plan_downloads

REPO_CATALOG = Path(__file__).resolve().parents[2] / "models.yaml"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(REPO_CATALOG)


def _settings(tmp_path, **overrides):
    return Settings(_env_file=None, models_dir=tmp_path, **overrides)


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


def test_english_alone_is_the_default_selection(tmp_path, catalog):
    choices = select_orpheus(catalog, _settings(tmp_path))
    assert [(c.key, c.quant, c.path) for c in choices] == [
        ("en", "Q8_0", tmp_path / "Orpheus-3b-FT-Q8_0.gguf")
    ]


def test_models_are_chosen_by_key_or_language_each_once(tmp_path, catalog):
    choices = select_orpheus(catalog, _settings(tmp_path, orpheus_models="fr, es,it,de,en"))
    assert [c.key for c in choices] == ["fr", "es-it", "de", "en"]
    assert default_orpheus(choices).key == "en"  # English is the default wherever it is listed
    assert default_orpheus(select_orpheus(catalog, _settings(tmp_path, orpheus_models="de,fr"))).key == "de"


def test_an_unknown_model_lists_the_keys_and_languages(tmp_path, catalog):
    with pytest.raises(ConfigError, match=r"unknown Orpheus model 'ja'.*es-it \(es/it\)"):
        select_orpheus(catalog, _settings(tmp_path, orpheus_models="en,ja"))


def test_orpheus_quant_applies_where_offered_and_a_model_may_name_its_own(tmp_path, catalog):
    choices = select_orpheus(catalog, _settings(tmp_path, orpheus_models="en,fr", orpheus_quant="Q4_K_M"))
    assert [(c.key, c.quant) for c in choices] == [("en", "Q4_K_M"), ("fr", "Q8_0")]
    choices = select_orpheus(catalog, _settings(tmp_path, orpheus_models="en:Q2_K,fr:Q8_0"))
    assert [(c.key, c.quant) for c in choices] == [("en", "Q2_K"), ("fr", "Q8_0")]
    with pytest.raises(ConfigError, match="choose one of Q8_0"):
        select_orpheus(catalog, _settings(tmp_path, orpheus_models="fr:Q4_K_M"))
    with pytest.raises(ConfigError, match="choose one of Q8_0"):
        select_orpheus(catalog, _settings(tmp_path, orpheus_models="fr,de", orpheus_quant="Q2_K"))


def test_local_files_for_fine_tunes_come_from_orpheus_model_paths(tmp_path, catalog):
    settings = _settings(tmp_path, orpheus_models="en,fr", orpheus_model_paths=f"fr={tmp_path}/mine.gguf")
    choices = select_orpheus(catalog, settings)
    assert (choices[1].path, choices[1].quant, choices[1].local) == (tmp_path / "mine.gguf", "custom", True)
    assert [item.filename for item in plan_downloads(catalog, settings, only=["orpheus"])] == [
        "Orpheus-3b-FT-Q8_0.gguf"
    ]
    with pytest.raises(ConfigError, match="ORPHEUS_MODEL_PATHS names 'xx'"):
        select_orpheus(catalog, _settings(tmp_path, orpheus_model_paths=f"xx={tmp_path}/a.gguf"))
    with pytest.raises(
        ConfigError, match="invalid ORPHEUS_MODEL_PATHS='nonsense': 'nonsense' is not key=path"
    ):
        load_settings(_env_file=None, orpheus_model_paths="nonsense")


def test_a_missing_fine_tune_names_its_download_command(tmp_path, catalog):
    (choice,) = select_orpheus(catalog, _settings(tmp_path, orpheus_models="ko"))
    with pytest.raises(
        Exception, match=r"ORPHEUS_MODELS=ko python scripts/download_models.py --only orpheus"
    ):
        choice.require_file()


def test_the_download_plan_covers_every_selected_model(tmp_path, catalog):
    items = plan_downloads(catalog, _settings(tmp_path, orpheus_models="en,zh,es"), only=["orpheus"])
    assert [(i.repo, i.filename) for i in items] == [
        ("lex-au/Orpheus-3b-FT-Q8_0.gguf", "Orpheus-3b-FT-Q8_0.gguf"),
        ("lex-au/Orpheus-3b-Chinese-FT-Q8_0.gguf", "Orpheus-3b-Chinese-FT-Q8_0.gguf"),
        ("lex-au/Orpheus-3b-Italian_Spanish-FT-Q8_0.gguf", "Orpheus-3b-Italian_Spanish-FT-Q8_0.gguf"),
    ]


def test_the_pretrained_model_is_selected_with_english_or_alone(tmp_path, catalog):
    choices = select_orpheus(catalog, _settings(tmp_path, orpheus_models="en,pretrained"))
    assert [(c.key, c.quant, c.path.name, c.spec.clones) for c in choices] == [
        ("en", "Q8_0", "Orpheus-3b-FT-Q8_0.gguf", False),
        ("pretrained", "Q8_0", "Orpheus-3b-Pretrained-Q8_0.gguf", True),
    ]
    assert default_orpheus(choices).key == "en"
    (alone,) = select_orpheus(catalog, _settings(tmp_path, orpheus_models="pretrained:Q4_K"))
    assert (alone.key, alone.quant, alone.path) == (
        "pretrained",
        "Q4_K",
        tmp_path / "Orpheus-3b-Pretrained-Q4_K.gguf",
    )
    assert default_orpheus([alone]).key == "pretrained"
    # Without English, the default is the first model with voices to default to, not the cloning one.
    assert (
        default_orpheus(select_orpheus(catalog, _settings(tmp_path, orpheus_models="pretrained,fr"))).key
        == "fr"
    )
    with pytest.raises(
        ModelNotFoundError, match=r"ORPHEUS_MODELS=pretrained python scripts/download_models.py"
    ):
        alone.require_file()


def test_the_pretrained_model_takes_a_local_file_from_orpheus_model_paths(tmp_path, catalog):
    settings = _settings(
        tmp_path, orpheus_models="en,pretrained", orpheus_model_paths=f"pretrained={tmp_path}/model.q8_0.gguf"
    )
    choice = select_orpheus(catalog, settings)[1]
    # The hub's own name counts as the catalog's file: the quantization is still known.
    assert (choice.path, choice.quant, choice.local) == (tmp_path / "model.q8_0.gguf", "Q8_0", True)
