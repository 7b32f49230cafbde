"""models.yaml: the shipped catalog, and a broken one refused naming the field and the fix."""

from pathlib import Path

import pytest
import yaml

from coordinator.config.catalog import load_catalog
from coordinator.errors import ConfigError

REPO_CATALOG = Path(__file__).resolve().parents[2] / "models.yaml"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(REPO_CATALOG)


def test_the_shipped_catalog_offers_the_documented_quantizations(catalog):
    assert catalog.orpheus.default_quant == "Q8_0"
    assert set(catalog.orpheus.quants) == {"Q8_0", "Q4_K_M", "Q2_K"}
    assert catalog.llm.default_quant == "Q8_0"
    assert set(catalog.llm.quants) == {"Q8_0", "Q4_K_M"}
    assert catalog.orpheus.voices == ["tara", "leah", "jess", "leo", "dan", "mia", "zac", "zoe"]
    assert catalog.orpheus.license == "Apache-2.0" and "Gemma" in catalog.llm.license


def test_the_catalog_lists_every_published_fine_tune_with_its_languages_and_voices(catalog):
    models = catalog.orpheus_models()
    assert list(models) == ["en", "fr", "de", "ko", "hi", "zh", "es-it", "pretrained"]
    assert {key: spec.languages for key, spec in models.items()} == {
        "en": ["en"],
        "fr": ["fr"],
        "de": ["de"],
        "ko": ["ko"],
        "hi": ["hi"],
        "zh": ["zh"],
        "es-it": ["es", "it"],
        "pretrained": ["en"],
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


def test_the_pretrained_model_is_the_one_cloning_model_with_its_published_files(catalog):
    spec = catalog.orpheus_pretrained["pretrained"]
    assert catalog.cloning_keys() == ["pretrained"]
    assert spec.clones and spec.voices == [] and spec.default_voice == "" and spec.openai_voices == {}
    assert (spec.name, spec.languages, spec.default_quant) == ("Orpheus-3b-Pretrained", ["en"], "Q8_0")
    # annuvin/orpheus-3b-0.1-pt-gguf names its files model.<quant>.gguf: kept under a telling name.
    assert {name: (q.repo, q.file, q.local_name) for name, q in spec.quants.items()} == {
        "Q8_0": ("annuvin/orpheus-3b-0.1-pt-gguf", "model.q8_0.gguf", "Orpheus-3b-Pretrained-Q8_0.gguf"),
        "Q4_K": ("annuvin/orpheus-3b-0.1-pt-gguf", "model.q4_k.gguf", "Orpheus-3b-Pretrained-Q4_K.gguf"),
    }
    assert spec.quants["Q4_K"].size_gb < spec.quants["Q8_0"].size_gb
    assert not any(s.clones for s in (catalog.orpheus, *catalog.orpheus_finetunes.values()))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw["orpheus_finetunes"]["fr"].update(voices=[]), "needs its voices"),
        (lambda raw: raw["orpheus_pretrained"]["pretrained"].update(clones=False), "needs its voices"),
        (
            lambda raw: raw["orpheus_pretrained"]["pretrained"].update(
                clones=False, voices=["tara"], default_voice="tara"
            ),
            "set clones: true",
        ),
        (lambda raw: raw["orpheus_pretrained"]["pretrained"].update(default_voice="x"), "default_voice 'x'"),
        (
            lambda raw: raw["orpheus_pretrained"].update(en=raw["orpheus_pretrained"]["pretrained"]),
            "key 'en'",
        ),
        (
            lambda raw: raw["orpheus_pretrained"].update(fr=raw["orpheus_pretrained"]["pretrained"]),
            "both use the key 'fr'",
        ),
        (lambda raw: raw["orpheus"].update(clones=True), "must have built-in voices"),
    ],
)
def test_a_broken_cloning_entry_names_the_problem(tmp_path, mutate, message):
    raw = yaml.safe_load(REPO_CATALOG.read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_catalog(path)


def test_a_cloning_model_may_also_have_built_in_voices(tmp_path):
    raw = yaml.safe_load(REPO_CATALOG.read_text(encoding="utf-8"))
    raw["orpheus_pretrained"]["pretrained"].update(voices=["tara"], default_voice="tara")
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert load_catalog(path).orpheus_pretrained["pretrained"].voices == ["tara"]


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

    raw = yaml.safe_load(REPO_CATALOG.read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_catalog(path)


def test_a_missing_or_unparsable_catalog_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="MODELS_CONFIG"):
        load_catalog(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("orpheus: [unclosed")
    with pytest.raises(ConfigError, match="cannot read"):
        load_catalog(bad)


def test_an_openai_voice_mapped_to_no_voice_of_the_model_is_a_config_error(tmp_path):
    raw = yaml.safe_load(REPO_CATALOG.read_text())
    raw["orpheus"]["openai_voices"]["alloy"] = "nobody"
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(
        ConfigError, match="openai_voices: alloy maps to 'nobody', which is not one of the voices"
    ):
        load_catalog(path)
