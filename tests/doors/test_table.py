"""The door table covers every pair: each (door, rule) is run, or excused with its reason, and the
known drift is marked only where a rule runs. Pure bookkeeping: no server is started."""

from __future__ import annotations

import inspect
from itertools import product

from tests.doors import test_rules
from tests.doors.doors import Door
from tests.doors.table import DOORS, KNOWN_DRIFT, NOT_APPLICABLE, RULE_TESTS, RULES

# A reason is a sentence a reader can check, not a placeholder.
MIN_REASON_CHARS = 40


def _params(rule_name: str) -> list:
    """The doors the check of ``rule_name`` is parametrized with (pytest.param objects)."""
    function = RULE_TESTS[rule_name]
    (mark,) = [m for m in getattr(function, "pytestmark", []) if m.name == "parametrize"]
    assert mark.args[0] == "door" and mark.kwargs.get("indirect") is True
    return list(mark.args[1])


def _parametrized_doors(rule_name: str) -> list[str]:
    return [param.id for param in _params(rule_name)]


def test_every_door_is_held_to_every_rule_or_excused_with_a_reason():
    names = [door.name for door in DOORS]
    assert len(set(names)) == len(names), "two doors share a name"
    for door in DOORS:
        assert isinstance(door, Door) and not inspect.isabstract(type(door)), door.name
    pairs = set(product(names, RULES))
    for pair, reason in NOT_APPLICABLE.items():
        assert pair in pairs, f"{pair} names a door or a rule that does not exist"
        assert len(reason.strip()) >= MIN_REASON_CHARS, f"{pair}: say why it does not apply"
    for rule_name in RULES:
        run = _parametrized_doors(rule_name)
        expected = [name for name in names if (name, rule_name) not in NOT_APPLICABLE]
        assert run == expected, f"rule {rule_name!r} runs on {run}, not on {expected}"
    run_pairs = {(door, rule_name) for rule_name in RULES for door in _parametrized_doors(rule_name)}
    assert run_pairs | set(NOT_APPLICABLE) == pairs and not run_pairs & set(NOT_APPLICABLE)


def test_every_rule_has_one_check_and_every_check_is_a_rule_of_the_table():
    assert set(RULE_TESTS) == set(RULES), "a rule without its check, or a check of no rule"
    checks = {
        name: function
        for name, function in vars(test_rules).items()
        if name.startswith("test_") and inspect.isfunction(function)
    }
    assert set(checks.values()) == set(RULE_TESTS.values()), (
        "every test in test_rules.py is a rule of the table: register it with @rule"
    )


def test_known_drift_is_marked_only_on_pairs_that_run_and_says_what_differs():
    for pair, reason in KNOWN_DRIFT.items():
        door, rule_name = pair
        assert pair not in NOT_APPLICABLE, f"{pair} is excused and marked as drift"
        params = [p for p in _params(rule_name) if p.id == door]
        assert len(params) == 1, pair
        (mark,) = params[0].marks
        assert mark.name == "xfail" and mark.kwargs == {"strict": True, "reason": reason}
        assert len(reason.strip()) >= MIN_REASON_CHARS, f"{pair}: say what differs"
    for rule_name in RULES:
        for param in _params(rule_name):
            assert bool(param.marks) == ((param.id, rule_name) in KNOWN_DRIFT), (param.id, rule_name)
