"""Fixtures of the lifecycle tests."""

from __future__ import annotations

import shutil

import pytest
from lchelpers import EXAMPLE, Config


@pytest.fixture
def config(tmp_path) -> Config:
    dst = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("rendered"))
    return Config(dst)
