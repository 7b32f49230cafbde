"""The settings' reference cannot drift: docs/configuration.md's tables, .env.example and the CLI's
help are what coordinator.config.reference renders from the settings' own descriptions."""

import argparse
from pathlib import Path

import pytest

from coordinator.cli import _build_parser
from coordinator.config import reference
from coordinator.config.reference import COMMAND, DOCS_PAGE, ENV_EXAMPLE, Section
from coordinator.config.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_the_docs_settings_tables_are_the_ones_the_settings_render():
    page = (REPO / DOCS_PAGE).read_text(encoding="utf-8")
    assert reference.replace_tables(page) == page, f"{DOCS_PAGE} is stale: run `{COMMAND}`"


def test_env_example_is_the_one_the_settings_render():
    assert (REPO / ENV_EXAMPLE).read_text(encoding="utf-8") == reference.env_example(), (
        f"{ENV_EXAMPLE} is stale: run `{COMMAND}`"
    )


def test_the_check_command_names_a_stale_file_and_the_fix_rewrites_it(tmp_path, caplog):
    (tmp_path / "docs").mkdir()
    page = (REPO / DOCS_PAGE).read_text(encoding="utf-8")
    (tmp_path / DOCS_PAGE).write_text(page.replace("| `N_CTX` | `4096` |", "| `N_CTX` | `2048` |"))
    (tmp_path / ENV_EXAMPLE).write_text(reference.env_example())
    assert reference.main(["--check", "--root", str(tmp_path)]) == 1
    assert f"{DOCS_PAGE} is stale: run `{COMMAND}`" in caplog.text
    assert reference.main(["--root", str(tmp_path)]) == 0
    assert (tmp_path / DOCS_PAGE).read_text() == page
    assert reference.main(["--check", "--root", str(tmp_path)]) == 0


def test_every_setting_has_a_description_and_a_row_once():
    tables = reference.settings_tables()
    for name in Settings.model_fields:
        assert Settings.model_fields[name].description, name
        assert tables.count(f"| `{name.upper()}` |") == 1, name


def test_a_setting_left_out_of_the_sections_is_refused(monkeypatch):
    without = tuple(
        Section(s.title, tuple(n for n in s.names if n != "n_ctx"), s.intro) for s in reference.SECTIONS
    )
    monkeypatch.setattr(reference, "SECTIONS", without)
    with pytest.raises(ValueError, match=r"missing \['n_ctx'\]"):
        reference.env_example()


def test_every_default_written_in_env_example_parses_back_to_the_default(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.setenv(name.upper(), reference.default_value(name))
    assert load_settings(_env_file=None) == Settings(_env_file=None)


def _flags(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                for flag in _flags(sub):
                    yield (command, *flag[1:])
        else:
            yield ("", action.dest, action)


def test_every_cli_flag_that_sets_a_setting_takes_its_help_from_the_setting():
    setting_flags = [(command, dest, action) for command, dest, action in _flags(_build_parser())]
    setting_flags = [flag for flag in setting_flags if flag[1] in Settings.model_fields]
    assert {(command, dest) for command, dest, _ in setting_flags} >= {
        ("serve", "host"),
        ("serve", "port"),
        ("download", "orpheus_models"),
        ("synth", "tts_max_tokens"),
    }
    for command, dest, action in setting_flags:
        description = Settings.model_fields[dest].description.replace("%", "%%")
        assert description in action.help, (command, dest)
        assert f"Default: {dest.upper()}" in action.help, (command, dest)


def test_every_link_of_the_tables_names_a_file_of_the_repository():
    assert set(reference.SEE_ALSO) <= set(Settings.model_fields)
    for _title, target in reference.SEE_ALSO.values():
        assert (REPO / target.partition("#")[0]).is_file(), target
