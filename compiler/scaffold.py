"""`regops init`: scaffolds a config directory from the templates in templates/init.

The scaffold is built in memory first (`build`), checked against what is on
disk (`conflicts`), then written all at once (`write`): a refusal or a failed
write leaves the directory as it was.
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from pathlib import Path

from .age import check_recipient
from .resources import data_dir
from .schema import KINDS, file_name

# Marks left for the user; `grep -rn REPLACE-ME` finds every one.
PLACEHOLDER = "REPLACE-ME"
RECIPIENT_PLACEHOLDER = "REPLACE-ME-with-an-age-public-key"
FALLBACK_KUBERNETES_VERSION = "1.33"
SCHEMA_DIR = "schemas"  # beside the config files; the modelines point here
# template file -> file written into the config directory
TEMPLATES = {
    "clusters.yaml.in": "clusters.yaml",
    "registries.yaml.in": "registries.yaml",
    "regops.yaml.in": "regops.yaml",
    "sops.yaml.in": ".sops.yaml",
}
_TOKEN = re.compile(r"@([A-Z_]+)@")


class ScaffoldError(Exception):
    """Why init wrote nothing (or could not finish); the message is for the user."""


def secret_field_regex() -> str:
    """The sops encrypted_regex that matches exactly the secret auth fields (SPEC 1.1)."""
    from .providers import SECRET_AUTH_FIELDS

    return "^(" + "|".join(SECRET_AUTH_FIELDS) + ")$"


def recipient_problem(recipient: str) -> str | None:
    """Why `recipient` cannot go into .sops.yaml, without echoing a secret key."""
    why = check_recipient(recipient)
    if why is None:
        return None
    shown = "the value" if "secret" in why.lower() else repr(recipient[:16] + ("..." if len(recipient) > 16 else ""))
    return f"{shown} {why}"


def _kubernetes_version() -> str:
    from .kube_versions import shipped

    known = shipped()
    return known[-1] if known else FALLBACK_KUBERNETES_VERSION


def build(recipients: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Relative path -> content of every file init writes."""
    values = {
        "AGE_RECIPIENT": ",".join(recipients) if recipients else RECIPIENT_PLACEHOLDER,
        "CLUSTER_RECIPIENT": recipients[0] if recipients else RECIPIENT_PLACEHOLDER,
        "KUBERNETES_VERSION": _kubernetes_version(),
        "SECRET_FIELD_REGEX": secret_field_regex(),
    }

    def fill(m: re.Match) -> str:
        return values[m.group(1)]  # an unknown token is a bug in a template: let it raise

    base = data_dir("templates") / "init"
    files: dict[str, bytes] = {}
    for template, target in TEMPLATES.items():
        text = (base / template).read_text(encoding="utf-8")
        files[target] = _TOKEN.sub(fill, text).encode("utf-8")
    # The schemas editors validate against, copied so the modelines work offline.
    schemas = data_dir("schemas")
    for kind in KINDS.values():
        name = file_name(kind)
        files[f"{SCHEMA_DIR}/{name}"] = (schemas / name).read_bytes()
    return files


def conflicts(target: Path, files: dict[str, bytes]) -> list[str]:
    """Files of the scaffold that already exist in `target` (symlinks included)."""
    found = []
    for rel in files:
        if os.path.lexists(target / rel):
            found.append(rel)
    return found


def _check_dirs(target: Path, files: dict[str, bytes]) -> None:
    """Directories init writes into must be real directories, not files or symlinks."""
    for rel in sorted({str(Path(r).parent) for r in files} - {"."}):
        path = target / rel
        if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
            raise ScaffoldError(f"{path} exists and is not a directory; move it away first")
    if os.path.lexists(target) and not target.is_dir():
        raise ScaffoldError(f"{target} exists and is not a directory")


def write(target: Path, files: dict[str, bytes], force: bool = False) -> None:
    """Write the scaffold into `target`; refuse to overwrite anything unless `force`.

    Every file goes to a temporary name first and is renamed into place only when
    all were written, so a failed write (disk full, permissions) leaves no
    half-written file behind, and no directory init created.
    """
    _check_dirs(target, files)
    if not force:
        existing = conflicts(target, files)
        if existing:
            raise ScaffoldError(f"{target} already has {', '.join(existing)}; nothing was written (use --force to overwrite)")
    created: list[Path] = []
    staged: list[tuple[str, Path]] = []
    mode = _file_mode()
    try:
        for rel in sorted({str(Path(r).parent) for r in files} | {"."}, key=len):
            path = target / rel
            missing = [p for p in (path, *path.parents) if not os.path.lexists(p)]
            path.mkdir(parents=True, exist_ok=True)
            created.extend(reversed(missing))
        for rel, data in files.items():
            dest = target / rel
            fd, tmp = tempfile.mkstemp(prefix=".regops-init-", dir=dest.parent)
            staged.append((rel, Path(tmp)))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, mode)
        for rel, tmp in staged:
            os.replace(tmp, target / rel)
    except OSError as exc:
        for _, tmp in staged:
            try:
                tmp.unlink()
            except OSError:
                pass
        for path in reversed(created):
            try:
                path.rmdir()
            except OSError:
                pass
        raise ScaffoldError(f"cannot write into {target}: {exc.strerror or exc}") from None


def _file_mode() -> int:
    """0666 less the umask: what a plain open() would create (mkstemp makes 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def next_steps(target: Path, recipients: tuple[str, ...]) -> str:
    """What to do after init: the README's quick start, with this directory's paths."""
    shown = str(target)
    here = shown in (".", "")
    config = "" if here else f" --config {shlex.quote(shown)}"
    cd = "" if here else f"cd {shlex.quote(shown)} && "
    key = "path/to/age.key" if recipients else "~/regops-config.agekey"
    steps: list[list[str]] = []
    if recipients:
        steps.append(["clusters.yaml names the same age key as .sops.yaml as its cluster's recipient,",
                      "so a first render works; give each cluster its own key before you deploy."])
    else:
        steps.append(["Create the config's age key, outside the repository (age-keygen comes with age;",
                      f"rage-keygen works too):  age-keygen -o {key}",
                      f"Put its public key (age1...) where .sops.yaml and clusters.yaml say {RECIPIENT_PLACEHOLDER},",
                      "or run init again with --force --age-recipient age1..."])
    steps.append([f"Edit clusters.yaml and registries.yaml; replace every {PLACEHOLDER} (grep -rn {PLACEHOLDER} {shlex.quote(shown)})."])
    steps.append([f"Encrypt the secret fields, in the config directory:  {cd}sops encrypt -i registries.yaml"])
    steps.append([f"Check, no key needed:  regops validate{config}"])
    steps.append([f"Render with the age secret key:  SOPS_AGE_KEY_FILE={key} regops render{config}"])
    written = ", ".join(TEMPLATES.values()) + f" and {SCHEMA_DIR}/ (JSON schemas for your editor)"
    out = [f"Wrote {written} in {shown}.", "", "Next steps:"]
    for i, step in enumerate(steps, 1):
        out.append(f"  {i}. " + "\n     ".join(step))
    out += ["", f"After upgrading regops, refresh the editor schemas:  regops schema --write {shlex.quote(str(target / SCHEMA_DIR))}"]
    return "\n".join(out) + "\n"
