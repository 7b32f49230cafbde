"""ORPHEUS_MODELS: which Orpheus models of models.yaml load, in which quantization, from where."""

from pathlib import Path

import pytest

from coordinator.config import Settings, default_orpheus, load_catalog, load_settings, select_orpheus
from coordinator.errors import ConfigError
from coordinator.runtime.download import plan_downloads

REPO_CATALOG = Path(__file__).resolve().parents[2] / "models.yaml"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(REPO_CATALOG)


def _settings(tmp_path, **overrides):
    return Settings(_env_file=None, models_dir=tmp_path, **overrides)


def test_the_catalog_lists_every_published_fine_tune_with_its_languages_and_voices(catalog):
    models = catalog.orpheus_models()
    assert list(models) == ["en", "fr", "de", "ko", "hi", "zh", "es-it"]
    assert {key: spec.languages for key, spec in models.items()} == {
        "en": ["en"],
        "fr": ["fr"],
        "de": ["de"],
        "ko": ["ko"],
        "hi": ["hi"],
        "zh": ["zh"],
        "es-it": ["es", "it"],
    }
    assert models["ko"].voices == ["유나", "준서"] and models["hi"].voices == ["ऋतिका"]
    assert models["zh"].voices == ["长乐", "白芷"]
    es_it = models["es-it"]
    assert [v for v in es_it.voices if es_it.language_of(v) == "es"] == ["javi", "sergio", "maria"]
    assert [v for v in es_it.voices if es_it.language_of(v) == "it"] == ["pietro", "giulia", "carlo"]
    for key, spec in catalog.orpheus_finetunes.items():
        # lex-au publishes the fine-tunes in Q8_0 only, one repo per file named after it.
        assert list(spec.quants) == ["Q8_0"], key
        quant = spec.quants["Q8_0"]
        assert quant.repo == f"lex-au/{quant.file}" and quant.file.endswith("-FT-Q8_0.gguf")


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


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda raw: raw["orpheus_finetunes"].update(en=raw["orpheus_finetunes"]["fr"]),
            "may not use the key 'en'",
        ),
        (lambda raw: raw["orpheus_finetunes"]["es-it"]["voice_languages"].pop("javi"), "gives every voice"),
        (
            lambda raw: raw["orpheus_finetunes"]["fr"].update(voice_languages={"pierre": "de"}),
            "not in languages",
        ),
        (lambda raw: raw["orpheus_finetunes"]["de"].update(name="Orpheus-3b-French-FT"), "same name"),
    ],
)
def test_a_broken_language_entry_names_the_problem(tmp_path, mutate, message):
    import yaml

    raw = yaml.safe_load(REPO_CATALOG.read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_catalog(path)
