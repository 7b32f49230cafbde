"""The layers contract (pyproject.toml, checked by `lint-imports`) constrains only the modules it
names: a new module no layer names would escape it silently. These tests make it name them all."""

from __future__ import annotations

import pkgutil
import re

import pytest
from importlinter.api import read_configuration

import coordinator
from tests.conftest import REPO

# Packages whose modules the contract places one by one, as they sit in different layers.
SPLIT_PACKAGES = ("coordinator.audio", "coordinator.engine")


def _named_in_layers() -> set[str]:
    contracts = read_configuration(str(REPO / "pyproject.toml"))["contracts_options"]
    (layers,) = [contract["layers"] for contract in contracts if contract["type"] == "layers"]
    # A layer: modules separated by `|` or `:`, an optional one in parentheses.
    return {name.strip("() ") for layer in layers for name in re.split(r"[|:]", layer)}


def _children(package: str) -> list[str]:
    path = __import__(package, fromlist=["__path__"]).__path__
    return [f"{package}.{module.name}" for module in pkgutil.iter_modules(path)]


def test_every_top_level_module_of_the_package_sits_in_a_layer():
    named = _named_in_layers()
    missing = [
        module
        for module in _children(coordinator.__name__)
        if module not in named and module not in SPLIT_PACKAGES
    ]
    assert missing == [], f"name these in a layer of [tool.importlinter] (pyproject.toml): {missing}"


@pytest.mark.parametrize("package", SPLIT_PACKAGES)
def test_every_module_of_a_package_split_across_layers_sits_in_one(package):
    missing = [module for module in _children(package) if module not in _named_in_layers()]
    assert missing == [], f"name these in a layer of [tool.importlinter] (pyproject.toml): {missing}"
