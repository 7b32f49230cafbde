"""The tables of written → spoken cases, one per served language, each checked for its words and
its span map."""

from __future__ import annotations

import pytest

from coordinator.normalize.api import spoken_form
from tests.normalize import cases_de, cases_en, cases_es, cases_fr, cases_hi, cases_it, cases_ko, cases_zh
from tests.normalize.span_checks import check_spans

# The issue asks for at least this many real-text cases per language.
MIN_CASES = 40
TABLES = {
    "en": cases_en.CASES,
    "fr": cases_fr.CASES,
    "de": cases_de.CASES,
    "es": cases_es.CASES,
    "it": cases_it.CASES,
    "ko": cases_ko.CASES,
    "zh": cases_zh.CASES,
    "hi": cases_hi.CASES,
}
CASES = [(language, written, said) for language, table in TABLES.items() for written, said in table]


@pytest.mark.parametrize("language", sorted(TABLES))
def test_each_language_has_enough_cases(language: str) -> None:
    assert len(TABLES[language]) >= MIN_CASES


@pytest.mark.parametrize(
    ("language", "written", "said"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_written_text_is_spoken_as_a_person_reads_it(language: str, written: str, said: str) -> None:
    spoken = spoken_form(written, language)
    assert spoken.text == said
    assert spoken.original == written
    check_spans(spoken, language)
