"""The wheel (what pre-commit installs) carries schemas and templates and works without the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_runs_validate_and_renders_templates(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path / "w")], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "w").glob("regops-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in ("compiler/schemas/registries.schema.json", "compiler/schemas/crds/helmrepository-source.toolkit.fluxcd.io-v1.json", "compiler/templates/secret.yaml.j2", "compiler/templates/flux/helmrepository.yaml.j2", "compiler/templates/argocd/ksops-generator.yaml.j2", "compiler/templates/init/registries.yaml.in", "compiler/schemas/crds/application-argoproj.io-v1alpha1.json"):
        assert expected in names
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = (
        "import compiler, sys; from compiler.resources import data_dir;"
        f"assert compiler.__file__.startswith({str(target)!r}), compiler.__file__;"
        f"assert str(data_dir('schemas')).startswith({str(target)!r});"
        "from compiler.rendering import render_template;"
        "print(render_template('secret.yaml.j2', dict(name='n', namespace='ns', registry=None, extra_labels={}, annotations={}, type='Opaque', data={}, string_data={'a': 'b'}))['stringData']);"
        "from compiler.cli import main; sys.argv=['regops','validate','--config',%r]; main()"
    ) % str(ROOT / "examples" / "basic")
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "{'a': 'b'}" in proc.stdout
    assert "0 errors, 0 warnings in 4 files" in proc.stdout
