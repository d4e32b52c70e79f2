"""Fuzzing the loader and the validator: `regops validate` never exits 3 and never hangs.

Well over 10,000 generated inputs per run (see the figures printed at the end):
raw bytes and YAML token soup through the loader; structural and textual
mutations of examples/basic and random documents through the real
validate_config (file bytes served from memory); a share of them from real
files, and through the `regops validate` command itself.
"""

from __future__ import annotations

import copy
import os
import random
import subprocess
import sys

import fuzzkit as fk
import pytest
import sechelpers as sh
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import loading

N = float(os.environ.get("REGOPS_FUZZ_SCALE", "1"))


def fuzz_settings(n: int):
    return settings(max_examples=max(1, int(n * N)), deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


# --------------------------------------------------------------------------- strategies

YAML_TOKENS = [
    "a", "name", "registries", "clusters", "auth", "password", "url", "provider", ":", ": ", "-", "- ", "  ", "    ", "\n", "\r\n", "\t",
    "[", "]", "{", "}", ",", "?", "&a", "*a", "&x ", "*x", "<<", "<<: *a", "!", "!!str", "!!binary", "!!python/object:os.system", "!local",
    "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "---", "...", "#", "'", '"', "|", ">", "|-", ">+", "\\", "\x00", "\x85", "\u2028", "\ufeff",
    "ENC[AES256_GCM,data:eA==,iv:eA==,tag:eA==,type:str]", "ENC[", "sops:", "1", "1.5", "0x1F", "1e400", ".nan", "-.inf", "~", "null",
    "true", "yes", "on", "2025-01-01", "2025-01-01T00:00:00Z", "é", "\U0001f600", "\udc80",
]
token_soup = st.lists(st.sampled_from(YAML_TOKENS), max_size=60).map("".join)

SPECIAL_SCALARS = [
    "", " ", "*", "prod-*", "[", "docker.io", "https://quay.io", "quay.io/acme", "oci://x", "a" * 300, "ecr", "docker", "other",
    "gcr", "azure", "quay", "artifact-registry", "user-auth", "iam-role", "public", "private", "secure-with-ca", "insecure", "secure",
    "image-pull-secret", "registry-credentials", "auto-inject", "do-not-inject", "flux", "argocd", "1.31", "1.99", "age1xyz",
    "ENC[AES256_GCM,data:eA==,iv:eA==,tag:eA==,type:str]", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "123.dkr.ecr.x.amazonaws.com", "x.azurecr.io", "europe-west1-docker.pkg.dev",
    "h:99999", "[::1]:5000", "acme/charts", "a//b", "A/B", "a__b", "regcred-", "10m", "1h", "0s", "rendered", "../../etc", "/abs",
    "kube-system", "default", "x" * 64, "é", "\u2028", "\x00", "\ud7ff", "0x1F", "1e3", "~", "null", "True",
]
FIELD_NAMES = sorted({
    "apiVersion", "kind", "registries", "clusters", "name", "provider", "url", "type", "auth", "method", "username", "password",
    "token", "serviceAccountKey", "accessKeyId", "secretAccessKey", "pushContainerImages", "pushHelmPackages",
    "useAsChartRepository", "chartRepositories", "default", "credentialAccess", "mode", "source", "imagePullSecret",
    "connection", "caCertificate", "syncTool", "kubernetesVersion", "namespaces", "serviceAccounts", "extraImagePullSecrets",
    "recipients", "age", "controllerNamespace", "externalSecrets", "output", "secretNamePrefix", "chartRefreshInterval",
    "ecrRefreshInterval", "sops", "mac", "lastmodified",
})

RAW = fk.tiny_base()
BASE = {name: yaml.safe_load(raw) for name, raw in RAW.items()}
FILES = sorted(BASE)
POOL = [v for doc in BASE.values() for v in fk.leaves(doc)]
KIND_OF = {"regops.yaml": "Settings", "clusters.yaml": "Clusters"}


def rand_text(rng: random.Random) -> str:
    n = rng.randrange(0, 12)
    return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x2FFF), rng.randrange(0xE000, 0x10FFFF)])) for _ in range(n))


def rand_scalar(rng: random.Random):
    r = rng.random()
    if r < 0.35:
        return rng.choice(SPECIAL_SCALARS)
    if r < 0.5:
        return rng.choice(POOL)
    if r < 0.6:
        return rng.choice([None, True, False])
    if r < 0.7:
        return rng.choice([0, -1, 1, 2**63, -(2**64), rng.randrange(-10**6, 10**6), 10**100])
    if r < 0.75:
        return rng.choice([0.5, -0.0, 1e300, float("inf"), float("-inf"), float("nan")])
    return rand_text(rng)


def rand_value(rng: random.Random, depth: int = 0):
    r = rng.random()
    if depth > 3 or r < 0.55:
        return rand_scalar(rng)
    if r < 0.75:
        return [rand_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {rng.choice(FIELD_NAMES) if rng.random() < 0.7 else rand_text(rng): rand_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def structural_mutate(rng: random.Random) -> dict[str, bytes]:
    """examples/basic (tiny) with a few random edits of its parsed YAML: values set, swapped, deleted, items duplicated."""
    data = dict(BASE)
    changed = set()
    for _ in range(rng.randint(1, 4)):
        name = rng.choice(FILES)
        if name not in changed:
            data[name] = copy.deepcopy(BASE[name])
            changed.add(name)
        doc = data[name]
        where = fk.paths(doc)
        if not where:
            data[name] = rand_value(rng)
            continue
        path = rng.choice(where)
        parent = fk.get(doc, path[:-1])
        op = rng.choice(["set", "set", "swap", "pool", "delete", "duplicate", "add-key", "alias"])
        if op == "set":
            parent[path[-1]] = rand_value(rng)
        elif op == "pool":
            parent[path[-1]] = rng.choice(POOL)
        elif op == "swap":
            other = rng.choice(where)
            if other[: len(path)] != path and path[: len(other)] != other:  # neither inside the other
                a, b = fk.get(doc, other), fk.get(doc, path)
                parent[path[-1]], fk.get(doc, other[:-1])[other[-1]] = a, b
        elif op == "delete":
            del parent[path[-1]]
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        elif op == "add-key" and isinstance(parent, dict):
            parent[rng.choice(FIELD_NAMES)] = rand_value(rng)
        elif op == "alias":
            other = rng.choice(where)
            if other[: len(path)] != path and path[: len(other)] != other:
                parent[path[-1]] = fk.get(doc, other)  # the same object twice: dumped as an anchor and an alias
    return {name: fk.dump(data[name]) for name in changed}


TEXT_OPS = ["delete-line", "duplicate-line", "swap-lines", "indent", "dedent", "insert-bytes", "insert-token", "truncate", "replace-byte", "join-lines"]


def text_mutate(rng: random.Random) -> dict[str, bytes]:
    """One file with lines deleted, duplicated, swapped, re-indented, joined, or random bytes inserted."""
    name = rng.choice(FILES)
    raw = bytearray(RAW[name])
    for _ in range(rng.randint(1, 5)):
        lines = raw.split(b"\n")
        op = rng.choice(TEXT_OPS)
        i = rng.randrange(len(lines))
        if op == "delete-line":
            del lines[i]
        elif op == "duplicate-line":
            lines.insert(i, lines[i])
        elif op == "swap-lines":
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = rng.choice([b" ", b"  ", b"\t", b"- ", b"? "]) + lines[i]
        elif op == "dedent":
            lines[i] = lines[i].lstrip()
        elif op == "join-lines" and i + 1 < len(lines):
            lines[i : i + 2] = [lines[i] + rng.choice([b" ", b"", b", "]) + lines[i + 1].lstrip()]
        if op in ("delete-line", "duplicate-line", "swap-lines", "indent", "dedent", "join-lines"):
            raw = bytearray(b"\n".join(lines))
            continue
        at = rng.randrange(len(raw) + 1)
        if op == "insert-bytes":
            raw[at:at] = rng.randbytes(rng.randint(1, 8))
        elif op == "insert-token":
            raw[at:at] = rng.choice(YAML_TOKENS).encode("utf-8", "surrogatepass")
        elif op == "truncate":
            del raw[at:]
        elif op == "replace-byte" and at < len(raw):
            raw[at] = rng.randrange(256)
    return {name: bytes(raw)}


def random_document(rng: random.Random) -> dict[str, bytes]:
    """A whole file replaced by a random document (often with the right apiVersion/kind, to get past the first checks)."""
    name = rng.choice(FILES)
    kind = KIND_OF.get(name, "Registries")
    body = rand_value(rng)
    if rng.random() < 0.7:
        body = {"apiVersion": "regops.io/v1alpha1", "kind": kind, **(body if isinstance(body, dict) else {})}
        if kind != "Settings":
            body[kind.lower()] = [{rng.choice(FIELD_NAMES): rand_value(rng) for _ in range(rng.randrange(0, 9))} for _ in range(rng.randrange(0, 3))]
    return {name: fk.dump(body)}


GENERATORS = {"structural": structural_mutate, "text": text_mutate, "document": random_document}
seeds = st.randoms(use_true_random=False)


# --------------------------------------------------------------------------- the loader alone


@fuzz_settings(3000)
@given(st.one_of(st.binary(max_size=200), token_soup.map(lambda s: s.encode("utf-8", "surrogatepass")),
                 token_soup.map(lambda s: s.encode("utf-16", "surrogatepass")), st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass"))))
def test_loader_never_raises(raw):
    result = fk.run_checked(lambda: loading.load_bytes(raw, "fuzz.yaml"), "loader")
    assert (result.document is None) == bool(result.problems)
    fk.check_problems(result.problems)


# --------------------------------------------------------------------------- the whole validator, from memory


@pytest.fixture
def harness(tmp_path):
    with fk.Harness(tmp_path / "cfg", RAW) as h:
        yield h


@fuzz_settings(800)
@given(st.sampled_from(["Registries", "Clusters", "Settings"]), seeds)
def test_schema_layer_on_random_documents(kind, rng):
    """The JSON Schema layer alone, on documents that went through the real loader."""
    from compiler import schema_check

    body = rand_value(rng)
    if rng.random() < 0.7:
        body = {"apiVersion": "regops.io/v1alpha1", "kind": kind, **(body if isinstance(body, dict) else {})}
    loaded = loading.load_bytes(fk.dump(body), "doc.yaml")
    if loaded.document is None:
        return
    problems = fk.run_checked(lambda: schema_check.check(loaded.document, kind), "schema")
    fk.check_problems(problems)


@pytest.mark.parametrize(("generator", "examples"), [("structural", 1000), ("text", 1500), ("document", 700)])
def test_validator_on_generated_configs(harness, generator, examples):
    make = GENERATORS[generator]

    @fuzz_settings(examples)
    @given(seeds)
    def run(rng):
        result = harness.validate(make(rng))
        fk.check_problems(result.problems)

    run()


def test_validator_on_a_seeded_mutation_stream(harness):
    """Thousands more inputs from a plain seeded stream (no shrinking, but cheap); the seed is in the figures."""
    seed = int(os.environ.get("REGOPS_FUZZ_SEED", random.randrange(2**32)))
    sh.FIGURES["fuzz_stream_seed"] = seed
    n = int(3000 * N)
    for i in range(n):
        rng = random.Random(seed * 1_000_003 + i)
        files = rng.choice(list(GENERATORS.values()))(rng)
        try:
            result = harness.validate(files)
        except Exception as exc:  # name the reproducer
            raise AssertionError(f"input {i} of seed {seed} (REGOPS_FUZZ_SEED={seed}): {type(exc).__name__}") from exc
        fk.check_problems(result.problems)


# --------------------------------------------------------------------------- from real files, and through the command


def _write(config, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (config / name).write_bytes(data)


def test_validate_config_on_mutated_files_on_disk(tmp_path):
    from compiler.validation import validate_config

    @fuzz_settings(100)
    @given(st.sampled_from(sorted(GENERATORS)), seeds)
    def run(generator, rng):
        files = GENERATORS[generator](rng)
        config = tmp_path / "cfg"
        if not config.exists():
            sh.copy_example(config)  # the whole example on disk: the tiny config's files replace its own
        original = {name: (config / name).read_bytes() for name in files}
        _write(config, files)
        try:
            result = fk.run_checked(lambda: validate_config(config), "on_disk")
            fk.check_problems(result.problems)
        finally:
            _write(config, original)

    run()


def test_regops_validate_command_never_exits_3(tmp_path):
    config = tmp_path / "cfg"
    (config / "registries").mkdir(parents=True)
    _write(config, RAW)
    formats = [["validate"], ["validate", "--format", "json"], ["validate", "--format", "github"], ["-v", "validate"], ["-q", "validate"]]

    @fuzz_settings(30)
    @given(st.sampled_from(sorted(GENERATORS)), seeds, st.sampled_from(formats))
    def run(generator, rng, args):
        files = GENERATORS[generator](rng)
        original = {name: (config / name).read_bytes() for name in files}
        _write(config, files)
        try:
            i = args.index("validate")
            argv = [*args[: i + 1], "--config", str(config), *args[i + 1 :]]
            run = fk.run_checked(lambda: sh.regops(argv), "cli")
            assert run.code in (0, 1), run
            assert "Traceback" not in run.output
        finally:
            _write(config, original)

    run()


ADVERSARIAL = {
    "billion-laughs": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)),
    "alias-fanout": "a: &a " + "[" + ",".join(["x"] * 1000) + "]\nb: [" + ",".join(["*a"] * 1000) + "]\n",
    "recursive-alias": "a: &a [*a]\n",
    "self-merge": "a: &a {b: 1, <<: *a}\n",
    "deep-flow": "[" * 5000 + "]" * 5000,
    "deep-block": "".join(" " * i + "a:\n" for i in range(900)) + " " * 900 + "b\n",
    "deep-200": "a: " + "[" * 200 + "]" * 200 + "\n",
    "huge-scalar": "apiVersion: " + "x" * 3_000_000 + "\n",
    "many-keys": "".join(f"k{i}: {i}\n" for i in range(20_000)),
    "long-line-key": "k" * 200_000 + ": 1\n",
    "python-tag": "apiVersion: !!python/object/apply:os.system ['echo pwned']\n",
    "binary-tag": "apiVersion: !!binary aGVsbG8=\n",
    "set-tag": "apiVersion: !!set {a, b}\n",
    "merge-key": "base: &b {apiVersion: regops.io/v1alpha1}\nother:\n  <<: *b\n",
    "nul-bytes": "apiVersion: regops.io/v1alpha1\x00\nkind: Registries\n",
    "invalid-utf8": b"apiVersion: regops.io/v1alpha1\nkind: \xff\xfe\n",
    "utf16-bom": "apiVersion: regops.io/v1alpha1\n".encode("utf-16"),
    "bom-utf8": b"\xef\xbb\xbfapiVersion: regops.io/v1alpha1\nkind: Registries\nregistries: []\n",
    "cr-only": "apiVersion: regops.io/v1alpha1\rkind: Registries\rregistries: []\r",
    "multi-doc": "apiVersion: regops.io/v1alpha1\n---\nkind: Registries\n",
    "empty": "",
    "only-comment": "# nothing\n",
    "null-doc": "~\n",
    "directive": "%YAML 1.1\n%TAG !e! tag:example.com,2000:\n---\n!e!x {a: 1}\n",
    "nan-and-inf-names": "apiVersion: regops.io/v1alpha1\nkind: Registries\nregistries:\n  - name: .nan\n    provider: .inf\n    url: 0x1F\n",
    "int-keys": "1: a\n2: b\n? [a, b]\n: c\n",
    "complex-key": "? {a: 1}\n: x\n",
    "dup-keys": "apiVersion: a\napiVersion: b\n",
    "tabs": "apiVersion:\tregops.io/v1alpha1\nkind:\t\tRegistries\n",
    "timestamp": "apiVersion: 2001-12-14t21:59:43.10-05:00\n",
    "big-int": "apiVersion: " + "9" * 5000 + "\n",
    "redos-host": "apiVersion: regops.io/v1alpha1\nkind: Registries\nregistries:\n  - name: r\n    provider: other\n    url: " + "a" * 50_000 + "!\n",
    "redos-labels": "apiVersion: regops.io/v1alpha1\nkind: Registries\nregistries:\n  - name: r\n    provider: other\n    url: " + "a-" * 20_000 + "!\n",
    "redos-interval": "apiVersion: regops.io/v1alpha1\nkind: Settings\nchartRefreshInterval: " + "1" * 50_000 + "x\n",
    "redos-prefix": "apiVersion: regops.io/v1alpha1\nkind: Settings\nsecretNamePrefix: " + "a-" * 30_000 + "_\n",
    "redos-chart-path": "apiVersion: regops.io/v1alpha1\nkind: Registries\nregistries:\n  - name: r\n    provider: other\n    url: a.b\n    useAsChartRepository: true\n    chartRepositories: ['" + "a." * 20_000 + "!']\n",
    "glob-bomb": "apiVersion: regops.io/v1alpha1\nkind: Registries\nregistries:\n  - name: r\n    provider: other\n    url: a.b\n    credentialAccess: {mode: auto-inject, clusters: ['" + "*a" * 500 + "b']}\n",
}
KNOWN_BUGS: dict[str, str] = {}


def _adversarial_params():
    targets = ["registries.yaml", "clusters.yaml", "regops.yaml"]
    for i, case in enumerate(sorted(ADVERSARIAL)):
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[case])] if case in KNOWN_BUGS else []
        yield pytest.param(case, targets[i % 3], id=f"{case}-{targets[i % 3]}", marks=marks)


@pytest.mark.parametrize(("case", "target"), list(_adversarial_params()))
def test_adversarial_file_never_exits_3_or_hangs(tmp_path, case, target):
    config = tmp_path / "cfg"
    (config / "registries").mkdir(parents=True)
    _write(config, RAW)
    data = ADVERSARIAL[case]
    (config / target).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    run = fk.run_checked(lambda: sh.regops(["validate", "--config", str(config), "--format", "json"]), "adversarial")
    assert run.code in (0, 1), run
    assert "Traceback" not in run.output


def test_pem_check_is_not_quadratic(tmp_path):
    import time

    from compiler.pem import check_certificates

    text = "-----BEGIN CERTIFICATE-----\n" * 1000
    t0 = time.perf_counter()
    with fk.time_limit(fk.PER_INPUT_LIMIT):
        _, error = check_certificates(text)
    assert error and time.perf_counter() - t0 < 0.2


def test_validate_subprocess_exit_codes(tmp_path):
    """A few inputs through the real process (exit codes as a shell sees them)."""
    config = sh.copy_example(tmp_path / "cfg")
    rng = random.Random(66)
    cases = ["billion-laughs", "deep-flow", "invalid-utf8", "python-tag", "redos-host"]
    for case in cases:
        data = ADVERSARIAL[case]
        target = rng.choice(["registries.yaml", "clusters.yaml"])
        original = (config / target).read_bytes()
        (config / target).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
        proc = fk.run_checked(lambda: subprocess.run([sys.executable, "-m", "compiler", "validate", "--config", str(config)],
                                                     capture_output=True, timeout=60, check=False), "subprocess")
        (config / target).write_bytes(original)
        assert proc.returncode == 1, (case, proc.stdout[-500:], proc.stderr[-500:])
        assert b"Traceback" not in proc.stderr


def test_yaml_token_soup_documents_validate(harness):
    """Token soup as whole files: the YAML layer's errors must come back as problems."""

    @fuzz_settings(300)
    @given(st.sampled_from(FILES), token_soup)
    def run(name, text):
        result = harness.validate({name: text.encode("utf-8", "surrogatepass")})
        fk.check_problems(result.problems)

    run()


def test_every_problem_is_reported_in_all_formats(harness):
    """The reporters cope with whatever text problems carry (control characters, unicode, long lines)."""
    from compiler.reporting import PROBLEM_REPORTERS

    @fuzz_settings(100)
    @given(st.sampled_from(sorted(GENERATORS)), seeds)
    def run(generator, rng):
        result = harness.validate(GENERATORS[generator](rng))
        for reporter in PROBLEM_REPORTERS.values():
            text = reporter(result.problems, result.errors, result.warnings, len(result.files))
            assert isinstance(text, str)
        github = PROBLEM_REPORTERS["github"](result.problems, result.errors, result.warnings, 1)
        # one annotation per line: no problem text may start a new workflow command
        assert len(github.splitlines()) == len(result.problems) + 1

    run()
