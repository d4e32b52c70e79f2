"""Fixtures of the security suite, and the figures it reports at the end of a session."""

from __future__ import annotations

import os
import shutil

import pytest
import sechelpers as sh


def pytest_configure(config):
    config.addinivalue_line("markers", "pool: run renders with regops' worker process pool (default here: one process)")


@pytest.fixture(autouse=True)
def single_process(request, monkeypatch):
    """Renders in this process (fast, caches stay warm) unless a test is marked `pool`.

    regops sizes its worker pool by os.cpu_count(); one worker means no pool at all.
    """
    if request.node.get_closest_marker("pool") is None:
        monkeypatch.setattr(os, "cpu_count", lambda: 1)


@pytest.fixture
def example(tmp_path):
    """A private copy of examples/basic (without its rendered tree)."""
    return sh.copy_example(tmp_path / "cfg")


@pytest.fixture(scope="session")
def example_pristine(tmp_path_factory):
    """examples/basic rendered once (config/rendered); copied by `example_rendered`."""
    config = sh.copy_example(tmp_path_factory.mktemp("example-pristine") / "cfg")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "cpu_count", lambda: 1)
        run = sh.regops(["render", "--config", str(config)], config / "keys" / "config.agekey")
    assert run.code == 0, run
    return config


@pytest.fixture
def example_rendered(example_pristine, tmp_path):
    """A private copy of examples/basic with its rendered tree (bytes and mtimes as rendered)."""
    dst = tmp_path / "cfg"
    shutil.copytree(example_pristine, dst, symlinks=True)
    return dst


@pytest.fixture(scope="session")
def example_secrets() -> dict[str, str]:
    regs = sh.decrypted_registries(sh.EXAMPLE, sh.EXAMPLE / "keys" / "config.agekey")
    return sh.secret_values(regs)


@pytest.fixture(scope="session")
def small_fleet(tmp_path_factory):
    """A sops-encrypted fleet of 6 registries x 4 clusters x 2 namespaces (generated once)."""
    fleet = sh.fleet_module()
    out = tmp_path_factory.mktemp("fleet-small") / "cfg"
    generated = fleet.generate(out, registries=6, clusters=4, namespaces=2, seed=6)
    return generated


@pytest.fixture
def fleet_copy(small_fleet, tmp_path):
    dst = tmp_path / "fleet"
    shutil.copytree(small_fleet.outdir, dst)
    return dst


def pytest_terminal_summary(terminalreporter):
    figures = sh.write_figures()
    if not figures:
        return
    terminalreporter.write_sep("-", "regops security figures")
    for key, value in figures.items():
        terminalreporter.write_line(f"{key}: {value}")
    terminalreporter.write_line(f"(written to {sh.FIGURES_FILE})")
