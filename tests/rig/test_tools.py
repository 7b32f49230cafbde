"""A test needing a missing program skips outside CI and fails under CI, with one line saying why."""

import pytest

from tests.rig.tools import program, require, under_ci

MISSING = "no-such-program-anywhere"


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("", False), ("false", False)])
def test_ci_is_whatever_ci_systems_set_it_to(monkeypatch, value, expected):
    monkeypatch.setenv("CI", value)
    assert under_ci() is expected


def test_outside_ci_a_missing_program_skips_with_its_reason(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"no {MISSING} on PATH"):
        program(MISSING, installed_by="apt-get install it")


def test_under_ci_a_missing_program_fails_saying_what_installs_it(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(
        pytest.fail.Exception, match=f"CI must run this test, but no {MISSING} on PATH: apt-get"
    ):
        program(MISSING, installed_by="apt-get install it")


def test_a_program_present_or_nothing_missing_lets_the_test_run(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert program("sh", installed_by="-").endswith("sh")
    require(None, installed_by="-")
