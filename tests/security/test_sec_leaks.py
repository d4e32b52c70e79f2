"""Leak hunt: no secret, nor any encoding of one, in output files, stdout, stderr or tracebacks.

For examples/basic and a small generated fleet, every command runs healthy,
with -v, and with a failure forced at each stage (bad YAML, schema and
secrets-at-rest errors, wrong/no key, MAC mismatch, a tampered ENC type, and
an exception raised inside each render stage). After each run, stdout,
stderr and every file in and beside the output tree (plaintext parts: ENC
values and age-armoured keys removed) are searched for every secret value,
its base64 (at any byte alignment), JSON/YAML/repr escapes, base64 of
"user:password", the compact GCP key and the lines of the key's private_key.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sechelpers as sh

PLANTED = "planted-plaintext-secret-4f9c2a77"  # a plaintext secret someone commits by mistake


# --------------------------------------------------------------------------- scenario set-up


def break_yaml(config: Path) -> None:
    """A registries file that does not parse, broken right next to an encrypted secret."""
    f = config / "registries.yaml"
    text = f.read_text()
    f.write_text(re.sub(r"(\n\s+password: ENC\[[^\n]*\n)", r'\1        password: "unterminated \n', text, count=1))


def duplicate_secret_key(config: Path) -> None:
    f = config / "registries.yaml"
    f.write_text(re.sub(r"(\n(\s+)password: (ENC\[[^\n]*)\n)", rf"\1\2password: {PLANTED}\n", f.read_text(), count=1))


def plaintext_secret(config: Path) -> None:
    """A secret committed in plaintext, in its field and in fields where it does not belong."""
    f = config / "registries.yaml"
    text = re.sub(r"(\n\s+password: )ENC\[[^\n]*\n", rf"\1{PLANTED}\n", f.read_text(), count=1)
    text = text.replace("      url: quay.io\n", f"      url: quay.io\n      password: {PLANTED}-2\n", 1)
    text = text.replace("        username: acme-bot\n", f"        username: acme-bot\n        passwd: {PLANTED}-3\n", 1)
    text = text.replace("      pushContainerImages: false\n", f"      pushContainerImages: {PLANTED}-4\n", 1)
    f.write_text(text)


def wrong_type_secret(config: Path) -> None:
    """A secret of the wrong YAML type (a list) and a secret used as a mapping key."""
    f = config / "registries.yaml"
    text = re.sub(r"(\n(\s+)password: )ENC\[[^\n]*\n", rf"\1[{PLANTED}, {PLANTED}-5]\n", f.read_text(), count=1)
    f.write_text(text)


def schema_error(config: Path) -> None:
    f = config / "clusters.yaml"
    f.write_text(f.read_text().replace("syncTool: flux", "syncTool: fluxcd", 1).replace("namespaces: [payments", "namespaces: [Payments_", 1))


def mac_mismatch(config: Path) -> None:
    f = config / "registries.yaml"
    f.write_text(f.read_text().replace("pushHelmPackages: false", "pushHelmPackages: true", 1))


def enc_type_tamper(kind: str):
    """ENC[...,type:str] turned into another type: sops then fails to parse the *decrypted* value."""

    def edit(config: Path) -> None:
        for f in sh.registries_files(config):
            f.write_text(f.read_text().replace("type:str]", f"type:{kind}]"))

    return edit


def wrong_key(config: Path, tmp: Path) -> Path:
    import pyrage

    key = tmp / "wrong.agekey"
    key.write_text(str(pyrage.x25519.Identity.generate()) + "\n")
    return key


# exceptions raised from inside each render stage; the message carries a secret
STAGES = {
    "decrypt": ("compiler.decryption", "decrypt_registries"),
    "render_cluster": ("compiler.rendering", "render_cluster"),
    "seal": ("compiler.sealing", "seal"),
    "manifests.check": ("compiler.manifests", "check"),
    "commit": ("compiler.output", "OutputTree.commit"),
    "render_report": ("compiler.reporting", "render_report"),
}


def inject(monkeypatch, stage: str, message: str) -> None:
    import importlib

    module_name, attr = STAGES[stage]
    target = importlib.import_module(module_name)
    if "." in attr:
        cls_name, attr = attr.split(".")
        target = getattr(target, cls_name)

    def boom(*args, **kwargs):
        raise RuntimeError(message)

    monkeypatch.setattr(target, attr, boom)


# --------------------------------------------------------------------------- the hunt


class Hunt:
    def __init__(self, config: Path, key: Path, secrets: dict[str, str]):
        self.config, self.key = config, key
        self.out = config / "rendered"
        self.needles = sh.needles({**secrets, "planted": PLANTED})

    def run(self, args: list[str], *, key: Path | None | str = "config", skip: str | None = None) -> tuple[sh.Run, dict]:
        verbose = args[:1] == ["-v"]
        cmd, rest = (args[1], args[2:]) if verbose else (args[0], args[1:])
        argv = (["-v"] if verbose else []) + [cmd, "--config", str(self.config), *rest]
        run = sh.regops(argv, self.key if key == "config" else key)
        places = {"stdout": run.stdout, "stderr": run.stderr, **sh.tree_texts(self.out)}
        if skip:  # the injected exception's own text (under -v its traceback shows it by construction)
            places = {k: v.replace(skip, "<injected>") for k, v in places.items()}
        leaks = sh.scan(places, self.needles)
        sh.FIGURES["leak_hunt_runs"] += 1
        sh.FIGURES["leaks_found"] += sum(len(v) for v in leaks.values())
        return run, leaks


def assert_clean(run: sh.Run, leaks: dict, codes: set[int]) -> None:
    assert not leaks, f"secret material leaked: {leaks}"
    assert run.code in codes, run


HEALTHY = [
    (["validate"], {0}), (["-v", "validate"], {0}), (["validate", "--format", "json"], {0}), (["validate", "--format", "github"], {0}),
    (["render"], {0}), (["-v", "render"], {0}), (["render", "--check"], {0}), (["-v", "render", "--check"], {0}),
    (["render", "--check", "--format", "json"], {0}), (["plan"], {0}), (["-v", "plan"], {0}), (["plan", "--format", "json"], {0}),
]


def test_healthy_commands_leak_nothing(example, example_secrets):
    hunt = Hunt(example, example / "keys" / "config.agekey", example_secrets)
    for args, codes in HEALTHY:
        assert_clean(*hunt.run(args), codes)
    # a change: render --check lists it (exit 1), render -v rewrites, and nothing leaks on the way
    sh.dump_yaml(example / "regops.yaml", {**sh.load_yaml(example / "regops.yaml"), "secretNamePrefix": "pull-"})
    for args, codes in ((["render", "--check"], {1}), (["-v", "render", "--check", "--format", "github"], {1}), (["-v", "plan"], {0}), (["-v", "render"], {0})):
        assert_clean(*hunt.run(args), codes)


INPUT_FAILURES = {
    "bad-yaml": break_yaml,
    "duplicate-secret-key": duplicate_secret_key,
    "plaintext-secret": plaintext_secret,
    "wrong-type-secret": wrong_type_secret,
    "schema-error": schema_error,
}


@pytest.mark.parametrize("failure", sorted(INPUT_FAILURES))
def test_invalid_input_leaks_nothing(example_rendered, example_secrets, failure):
    example = example_rendered
    hunt = Hunt(example, example / "keys" / "config.agekey", example_secrets)
    INPUT_FAILURES[failure](example)
    for args in (["validate"], ["-v", "validate"], ["validate", "--format", "json"], ["validate", "--format", "github"],
                 ["-v", "render"], ["render", "--check"], ["-v", "plan"]):
        assert_clean(*hunt.run(args), {1})


@pytest.mark.parametrize("failure", ["no-key", "wrong-key", "mac-mismatch", "enc-type-int", "enc-type-bool"])
@pytest.mark.parametrize("verbose", [False, pytest.param(True, id="v")])
def test_decryption_failures_leak_nothing(request, example_rendered, example_secrets, tmp_path, failure, verbose):
    example = example_rendered
    hunt = Hunt(example, example / "keys" / "config.agekey", example_secrets)
    key: Path | None | str = "config"
    if failure == "no-key":
        key = None
    elif failure == "wrong-key":
        key = wrong_key(example, tmp_path)
    elif failure == "mac-mismatch":
        mac_mismatch(example)
    else:
        enc_type_tamper(failure.rsplit("-", 1)[1])(example)
    v = ["-v"] if verbose else []
    for args in ([*v, "render"], [*v, "render", "--check"], [*v, "plan"]):
        run, leaks = hunt.run(args, key=key)
        assert_clean(run, leaks, {1})
        assert "registries" in run.output and "cannot decrypt" in run.output


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_exception_in_a_render_stage_leaks_nothing(monkeypatch, example_rendered, example_secrets, stage):
    """An internal error whose message holds a secret: exit 3, one line, no secret (no traceback without -v)."""
    example = example_rendered
    (example / "regops.yaml").write_text((example / "regops.yaml").read_text().replace("secretNamePrefix: regcred-", "secretNamePrefix: pull-"))
    hunt = Hunt(example, example / "keys" / "config.agekey", example_secrets)
    secret = example_secrets["docker-hub.password"]
    inject(monkeypatch, stage, f"stage {stage} failed on {secret!r} / {secret}")
    for args in (["render"], ["render", "--check"], ["plan"]):
        run, leaks = hunt.run(args)
        if stage in ("commit", "render_report") and args != ["render"]:
            continue  # --check and plan neither commit nor report a render
        assert_clean(run, leaks, {3})
        assert "internal error (RuntimeError)" in run.stderr and "Traceback" not in run.output


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_verbose_traceback_of_a_render_stage_leaks_nothing_of_regops_own(monkeypatch, example_rendered, example_secrets, stage):
    """With -v the traceback is printed: apart from the injected message itself, it must hold no secret."""
    example = example_rendered
    (example / "regops.yaml").write_text((example / "regops.yaml").read_text().replace("secretNamePrefix: regcred-", "secretNamePrefix: pull-"))
    hunt = Hunt(example, example / "keys" / "config.agekey", example_secrets)
    secret = example_secrets["docker-hub.password"]
    message = f"injected failure in {stage}: {secret}"
    inject(monkeypatch, stage, message)
    run, leaks = hunt.run(["-v", "render"], skip=message)
    assert_clean(run, leaks, {3})
    assert "Traceback" in run.stderr


def test_verbose_traceback_scrubs_decrypted_values(monkeypatch, example, example_secrets):
    hunt = Hunt(example, example / "keys" / "config.agekey", example_secrets)
    secret = example_secrets["docker-hub.password"]
    inject(monkeypatch, "seal", f"cannot seal {secret}")
    assert_clean(*hunt.run(["-v", "render"]), {3})


def test_tampered_render_key_file_does_not_leak_the_key(example_rendered, example_secrets):
    config = example_rendered
    key_file = config / "rendered" / ".regops-key.yaml"
    hmac_key = sh.sops_decrypt_json(key_file, config / "keys" / "config.agekey")["hmacKey"]
    key_file.write_text(key_file.read_text().replace(",type:str]", ",type:int]", 1))
    hunt = Hunt(config, config / "keys" / "config.agekey", {**example_secrets, "render-key": hmac_key})
    for args in (["render"], ["-v", "render"]):
        assert_clean(*hunt.run(args), {1})


def reencrypt_with(config: Path, rel: str, change) -> None:
    """Decrypt a registries file, let `change(data)` edit it, and encrypt it again (the config's .sops.yaml rules)."""
    import yaml

    key = config / "keys" / "config.agekey"
    data = sh.sops_decrypt_json(config / rel, key)
    change(data)
    (config / rel).write_text(yaml.safe_dump(data, sort_keys=False))
    proc = sh.sops(["encrypt", "-i", rel], key, cwd=config)
    assert proc.returncode == 0, proc.stderr


BROKEN_KEYS = {
    "truncated-json": lambda key: key[: len(key) // 2],
    "not-a-service-account": lambda key: key.replace('"service_account"', '"authorized_user"'),
    "pem-instead-of-json": lambda key: __import__("json").loads(key)["private_key"],
}


@pytest.mark.parametrize("broken", sorted(BROKEN_KEYS))
def test_unusable_gcp_key_is_reported_without_its_content(example_rendered, example_secrets, broken):
    """A serviceAccountKey that decrypts fine but is not a usable key: the render error must not quote it."""
    config = example_rendered
    originals = {}

    def change(data):
        for reg in data["registries"]:
            if reg["name"] == "gar-europe":
                originals["key"] = reg["auth"]["serviceAccountKey"]
                reg["auth"]["serviceAccountKey"] = BROKEN_KEYS[broken](originals["key"])
                originals["broken"] = reg["auth"]["serviceAccountKey"]

    reencrypt_with(config, "registries/cloud.yaml", change)
    hunt = Hunt(config, config / "keys" / "config.agekey", {**example_secrets, "broken-key": originals["broken"]})
    for args in (["render"], ["-v", "render"], ["-v", "plan"]):
        run, leaks = hunt.run(args)
        assert_clean(run, leaks, {1})
        assert "gar-europe" in run.output and "serviceAccountKey" in run.output, run


# --------------------------------------------------------------------------- the generated fleet


@pytest.fixture
def fleet_hunt(fleet_copy, small_fleet):
    return Hunt(fleet_copy, fleet_copy / "keys" / "config.agekey", sh.secret_values(small_fleet.registries))


def test_fleet_commands_leak_nothing(fleet_hunt, tmp_path):
    for args, codes in HEALTHY:
        assert_clean(*fleet_hunt.run(args), codes)
    for args in (["-v", "render"], ["-v", "plan"]):
        assert_clean(*fleet_hunt.run(args, key=wrong_key(fleet_hunt.config, tmp_path)), {1})
    # a MAC mismatch in one registries file, then a schema error on top of it
    f = sh.registries_files(fleet_hunt.config)[0]
    f.write_text(f.read_text().replace("pushContainerImages: true", "pushContainerImages: false", 1).replace(
        "pushContainerImages: false", "pushContainerImages: true", 1) + "# edited\n")
    f.write_text(f.read_text().replace("pushHelmPackages: false", "pushHelmPackages: true", 1))
    for args in (["-v", "render"], ["-v", "plan"]):
        assert_clean(*fleet_hunt.run(args), {1})
    clusters = fleet_hunt.config / "clusters.yaml"
    clusters.write_text(clusters.read_text().replace("syncTool: flux", "syncTool: fluks", 1))
    for args in (["-v", "validate"], ["render"], ["plan", "--format", "json"]):
        assert_clean(*fleet_hunt.run(args), {1})


@pytest.mark.pool
@pytest.mark.parametrize("stage", ["render_cluster", "seal", "manifests.check", "commit"])
def test_fleet_exception_in_a_render_stage_leaks_nothing(monkeypatch, fleet_hunt, small_fleet, stage):
    secrets = sh.secret_values(small_fleet.registries)
    some = min(v for k, v in secrets.items() if k.endswith((".password", ".token")))
    inject(monkeypatch, stage, f"boom {some}")
    assert_clean(*fleet_hunt.run(["render"]), {3})
    message = f"boom again {some}"
    inject(monkeypatch, stage, message)
    assert_clean(*fleet_hunt.run(["-v", "render"], skip=message), {3})
