"""Tests that need a program a fresh machine may lack (Chromium, Helm, a C compiler).

Outside CI such a test skips with a one-line reason, so README's test command passes on a machine
with only Python and a C compiler. Under CI (``CI`` set, as .ci/run does) it fails instead: CI
installs every such program, and a test it silently skipped would be a test nobody runs.
(GPU tests are apart: no CI machine here has a GPU, so the ``gpu`` marker skips them everywhere.)
"""

from __future__ import annotations

import os
import shutil

import pytest

# What CI systems set (GitHub Actions, GitLab, .ci/run): "true", "1", "yes"; unset, "" or "false" is not CI.
NOT_CI = frozenset({"", "0", "false", "no"})


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in NOT_CI


def require(missing: str | None, *, installed_by: str) -> None:
    """End the calling test (or fixture) where ``missing`` names what is missing: skip with that
    reason outside CI, fail under CI saying what installs it. Nothing happens when it is None."""
    if missing is None:
        return
    if under_ci():
        pytest.fail(f"CI must run this test, but {missing}: {installed_by}", pytrace=False)
    pytest.skip(missing)


def program(name: str, *, installed_by: str, env: str | None = None) -> str:
    """The path of program ``name`` (or of ``$env`` where that is set), else ``require`` ends the
    test: skipped outside CI, failed under CI."""
    path = (os.environ.get(env) if env else None) or shutil.which(name)
    where = f"PATH (nor ${env})" if env else "PATH"
    require(None if path else f"no {name} on {where}", installed_by=installed_by)
    assert path is not None
    return path
