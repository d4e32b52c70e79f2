"""The output tree: what changed, ownership, pruning, a lock, and one atomic swap.

A render compares what it produced with what the tree holds (through the
render state of `state.py`), seals only Secrets whose plaintext or recipients
changed, and keeps every other file's bytes and mtime. When anything changed,
the new tree is staged beside the old one — unchanged files hard-linked, not
copied — and exchanged with it by renameat2(RENAME_EXCHANGE): at every instant
the output path holds either the complete old or the complete new tree. The
tree that was swapped out is kept (`.<output>.regops-spare/` beside it,
git-ignored by a .gitignore of its own) and brought up to date for the next swap, so a render
that changes a few files links and unlinks a few files, not the whole tree.

Files regops did not write are never touched; they are carried into the new
tree as they are and reported as foreign. Symlinks are carried as symlinks and
never followed; regops refuses to write through one.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import shutil
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from . import state as st

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
MANAGED_LABEL = "app.kubernetes.io/managed-by: regops"


class OutputError(Exception):
    """The output tree cannot be written as asked; the message says why and what to do."""


class LockBusy(OutputError):
    pass


@dataclasses.dataclass
class Produced:
    """One file a render wants in a cluster directory (or the root)."""

    path: str
    content: bytes | None = None  # plain files
    obj: dict | None = None  # Secrets: sealed only when changed
    recipients: tuple[str, ...] = ()


@dataclasses.dataclass
class Diff:
    added: list[str] = dataclasses.field(default_factory=list)
    changed: list[str] = dataclasses.field(default_factory=list)
    removed: list[str] = dataclasses.field(default_factory=list)
    foreign: list[str] = dataclasses.field(default_factory=list)
    unchanged: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclasses.dataclass
class _DirPlan:
    """What to do in one directory (a cluster's, or the root with prefix '')."""

    prefix: str
    writes: dict[str, bytes]
    removes: list[str]
    new_state: st.DirState
    state_bytes: bytes | None  # None: the state file is unchanged
    staged: bool = False

    @property
    def empty(self) -> bool:
        return not self.writes and not self.removes and self.state_bytes is None


class OutputTree:
    """The comparison of a render with the tree, and the staging of its changes.

    With `stage_early`, each directory's changes are written into the staging
    tree as soon as they are known, so writing overlaps the rendering of the
    other clusters; the staging tree is created on the first change only, so
    a no-op render writes nothing at all.
    """

    def __init__(self, root: Path, key: bytes, seal: Callable[[dict, tuple[str, ...]], str], seal_params: str, *, stage_early: bool = False):
        self.root = root
        self.key = key
        self.seal = seal
        self.seal_params = seal_params
        self.diff = Diff()
        self._plans: list[_DirPlan] = []
        self.sealed = 0
        self.stage_early = stage_early
        self._staging: Path | None = None

    # ---- comparing

    def add_dir(self, prefix: str, produced: list[Produced], *, extra_state: dict | None = None) -> None:
        """Compare one directory (`prefix` '' is the root, else a cluster name) with what it should hold."""
        self.merge(*compare_dir(self.root, prefix, produced, self.key, self.seal, self.seal_params, extra_state))

    def keep_dir(self, prefix: str, files: int) -> None:
        """A directory known to be current, of `files` files: nothing to write.

        Its files stay owned; the worker that found it current also reported
        its foreign files (find_foreign's `known`), so its state is not needed here.
        """
        self._plans.append(_DirPlan(prefix, {}, [], st.DirState({}), None))
        self.diff.unchanged += files

    def written_entries(self) -> dict:
        """Stat-cache entries of the files the last commit wrote (see statcache)."""
        from . import statcache

        out = {}
        for plan in self._plans:
            for rel in plan.writes:
                full = f"{plan.prefix}/{rel}" if plan.prefix else rel
                entry = statcache.entry(self.root / full, plan.new_state.files[rel].sha256)
                if entry is not None:
                    out[full] = entry
        return out

    def merge(self, plan: _DirPlan, diff: Diff, sealed: int) -> None:
        """Take in the comparison of one directory (made here or in a worker process)."""
        self._plans.append(plan)
        if self.stage_early and not plan.empty:
            self._stage(plan)
        self.diff.added += diff.added
        self.diff.changed += diff.changed
        self.diff.removed += diff.removed
        self.diff.unchanged += diff.unchanged
        self.sealed += sealed

    def drop_dir(self, prefix: str) -> None:
        """A cluster that is gone: remove every file its state says regops owns."""
        old = st.load(self.root / prefix / st.STATE_FILE)
        if old is None:
            return
        removes = list(old.files) + [st.STATE_FILE]
        for p in old.files:
            if _existing(self.root / prefix / p) is not None:
                self.diff.removed.append(f"{prefix}/{p}")
        self._plans.append(_DirPlan(prefix, {}, removes, st.DirState({}), None))

    def find_foreign(self, known: dict[str, list[str]] | None = None) -> None:
        """Files in the tree that no state owns: reported, never touched.

        `known` holds what workers already found in cluster directories they
        walked (see `foreign_in`); only the rest of the tree is walked here.
        """
        known = known or {}
        owned: set[str] = {st.STATE_FILE}
        for plan in self._plans:
            if plan.prefix in known:
                continue
            pre = f"{plan.prefix}/" if plan.prefix else ""
            owned.update(pre + p for p in plan.new_state.files)
            owned.update(pre + p for p in plan.removes)
            owned.add(pre + st.STATE_FILE)
        if not self.root.is_dir():
            return
        seen = {plan.prefix for plan in self._plans}
        for name in sorted(known):
            self.diff.foreign.extend(f"{name}/{rel}" for rel in known[name])
        for entry in os.scandir(self.root):
            rel = entry.name
            if entry.is_dir(follow_symlinks=False):
                if rel in known:
                    continue
                if rel not in seen:
                    # clusters this run left alone (--cluster) still own their files
                    other = st.load(Path(entry.path) / st.STATE_FILE)
                    if other is not None:
                        owned.update(f"{rel}/{p}" for p in other.files)
                        owned.add(f"{rel}/{st.STATE_FILE}")
                self.diff.foreign.extend(f"{rel}/{p}" for p in foreign_in(Path(entry.path), owned, f"{rel}/"))
            elif rel not in owned:
                self.diff.foreign.append(rel)
        self.diff.foreign.sort()

    # ---- writing

    def _stage(self, plan: _DirPlan) -> None:
        if self._staging is None:
            self._staging = _stage_copy(self.root)
        staging = self._staging
        base = staging / plan.prefix if plan.prefix else staging
        for rel in plan.removes:
            _remove(staging, base / rel)
        writes = [(base / rel, data) for rel, data in plan.writes.items()]
        if plan.state_bytes is not None:
            writes.append((base / st.STATE_FILE, plan.state_bytes))
        elif not plan.new_state.files and plan.prefix:
            _remove(staging, base / st.STATE_FILE)
        _write_all(staging, writes)
        plan.staged = True

    def commit(self) -> None:
        """Stage what is left and swap the new tree in. Nothing to do when nothing changed."""
        pending = [p for p in self._plans if not p.staged and not p.empty]
        if self._staging is None and not pending:
            return
        try:
            for plan in pending:
                self._stage(plan)
            _swap_in(self.root, self._staging)
            self._staging = None
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Drop the staging tree (a failed render): the output stays as it was, and no spare is left."""
        if self._staging is not None:
            _rmtree(self._staging)
            self._staging = None


def foreign_in(base: Path, owned: set[str], prefix: str = "") -> list[str]:
    """Paths under `base` (files, and symlinks to directories) whose `prefix + path` is not in `owned`."""
    out = []
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        rel_dir = os.path.relpath(dirpath, base)
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if prefix + rel not in owned:
                out.append(rel)
    return out


def _existing(path: Path) -> bytes | None:
    """Bytes of a regular file at `path`; None when absent. Never follows a symlink."""
    try:
        if path.is_symlink() or not path.is_file():
            return None
        return path.read_bytes()
    except OSError:
        return None


def _owned_by_label(data: bytes | None) -> bool:
    # A file that says it is regops-managed (metadata stays readable in sealed
    # files) is adopted even without state, e.g. after the state file was lost.
    return data is not None and MANAGED_LABEL.encode() in data


def compare_dir(
    root: Path,
    prefix: str,
    produced: list[Produced],
    key: bytes,
    seal: Callable[[dict, tuple[str, ...]], str],
    seal_params: str,
    extra_state: dict | None = None,
    *,
    kept: dict[str, st.FileState] | None = None,
    inputs: dict[str, str] | None = None,
    old: st.DirState | None = None,
) -> tuple[_DirPlan, Diff, int]:
    """What one directory needs: sealing only Secrets whose fingerprint or file changed.

    `kept` are files whose inputs did not change and whose bytes are intact:
    they were not even rendered. Read-only and self-contained, so worker
    processes can run it per cluster.
    """
    base = root / prefix if prefix else root
    if old is None:
        old = st.load(base / st.STATE_FILE) or st.DirState({})
    inputs = inputs or {}
    diff = Diff()
    sealed = 0
    files: dict[str, st.FileState] = dict(kept or {})
    diff.unchanged += len(files)
    writes: dict[str, bytes] = {}
    for item in produced:
        rel = f"{prefix}/{item.path}" if prefix else item.path
        if (base / item.path).is_symlink():
            raise OutputError(f"{rel} is a symlink; regops does not write through symlinks")
        existing = _existing(base / item.path)
        before = old.files.get(item.path)
        if existing is not None and before is None and not _owned_by_label(existing):
            raise OutputError(f"{rel} exists and was not written by regops; move it away and render again")
        if item.obj is not None:
            fp = st.secret_fingerprint(key, item.obj, item.recipients, seal_params)
            if existing is not None and before is not None and before.hmac == fp and st.sha256(existing) == before.sha256:
                files[item.path] = st.FileState(before.sha256, fp, inputs.get(item.path))
                diff.unchanged += 1
                continue
            data = seal(item.obj, item.recipients).encode("utf-8")
            sealed += 1
            files[item.path] = st.FileState(st.sha256(data), fp, inputs.get(item.path))
        else:
            data = item.content or b""
            files[item.path] = st.FileState(st.sha256(data), None, inputs.get(item.path))
            if existing == data:
                diff.unchanged += 1
                continue
        writes[item.path] = data
        (diff.changed if existing is not None else diff.added).append(rel)
    produced_paths = {p.path for p in produced} | set(kept or {})
    removes = [p for p in old.files if p not in produced_paths and p != st.STATE_FILE]
    for p in removes:
        if _existing(base / p) is not None:
            diff.removed.append(f"{prefix}/{p}" if prefix else p)
    new_state = st.DirState(files, **(extra_state or {}))
    state_bytes = new_state.dumps()
    if _existing(base / st.STATE_FILE) == state_bytes:
        state_bytes = None
    return _DirPlan(prefix, writes, removes, new_state, state_bytes), diff, sealed


def _check_inside(staging: Path, target: Path) -> None:
    """Refuse any path whose directories include a symlink: it could point out of the tree."""
    current = staging
    for part in target.relative_to(staging).parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise OutputError(f"{current.relative_to(staging)} is a symlink; regops does not write through symlinks")


def _write_all(staging: Path, writes: list[tuple[Path, bytes]]) -> None:
    """Write many files into the staging tree; each directory is checked and made once."""
    checked: set[Path] = set()
    for parent in sorted({target.parent for target, _ in writes}):
        _check_inside(staging, parent / "_")
        parent.mkdir(parents=True, exist_ok=True)
        checked.add(parent)
    for target, data in writes:
        _write(staging, target, data, checked)


def _write(staging: Path, target: Path, data: bytes, checked: set[Path] | None = None) -> None:
    if checked is None or target.parent not in checked:
        _check_inside(staging, target)
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fh = open(target, "xb")
    except FileExistsError:
        # The old file is a hard link shared with the live tree: replace, never write into it.
        target.unlink()
        fh = open(target, "xb")
    with fh:
        fh.write(data)


def _remove(staging: Path, target: Path) -> None:
    _check_inside(staging, target)
    if target.is_symlink() or not target.exists():
        return
    target.unlink()
    parent = target.parent
    while parent != staging:
        try:
            parent.rmdir()  # only when empty: foreign files keep their directory
        except OSError:
            break
        parent = parent.parent


SPARE_SUFFIX = ".regops-spare"
_IGNORE = ".gitignore"
_SPARE_IGNORE = (
    b"# regops: the tree before the last render, as hard links of the same files, so the next\n"
    b"# render stages only what changed. Never committed (this file ignores it); safe to delete.\n"
    b"*\n"
)


def spare_dir(root: Path) -> Path:
    """Where the previous generation of `root` is kept: `.<name>.regops-spare` beside it."""
    return root.parent / f".{root.name}{SPARE_SUFFIX}"


def _stage_copy(root: Path) -> Path:
    """A sibling tree that holds the current tree as hard links (symlinks as symlinks).

    The tree the last swap replaced is kept as a spare: it already links the
    same files, so bringing it up to date costs a walk that compares inode
    numbers plus one link per file that differs, not one per file of the
    tree. Without a (usable) spare the tree is linked afresh. A sibling, not a
    subdirectory of something else: exchanging directories of one parent never
    rewrites their `..`, which a read-only tree would refuse.
    """
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = spare_dir(root)
    if not _private_dir(staging):
        _remove_any(staging)
        os.mkdir(staging, 0o700)
    if not root.is_dir():
        _rmtree(staging)
        umask = os.umask(0)
        os.umask(umask)
        os.mkdir(staging, 0o777 & ~umask)  # a new output tree gets the usual permissions
    else:
        _sync_tree(os.fspath(root), os.fspath(staging))
    _mark_spare(staging)
    return staging


def _mark_spare(spare: Path) -> None:
    """Our own .gitignore at the top of the spare, so `git status` never shows it."""
    marker = spare / _IGNORE
    if marker.is_dir() and not marker.is_symlink():
        return  # a foreign directory of that name: leave the tree as it is
    if _existing(marker) != _SPARE_IGNORE:
        _remove_any(marker)
        with open(marker, "xb") as fh:
            fh.write(_SPARE_IGNORE)


def _unmark_spare(staging: Path, root: Path) -> None:
    """Just before the swap: the top-level .gitignore of the new tree is the live tree's own, if any."""
    marker = staging / _IGNORE
    if marker.is_dir() and not marker.is_symlink():
        return
    _remove_any(marker)
    live = root / _IGNORE
    if live.is_symlink():
        os.symlink(os.readlink(live), marker)
    elif live.is_file():
        try:
            os.link(live, marker, follow_symlinks=False)
        except OSError:
            shutil.copy2(live, marker, follow_symlinks=False)


def _private_dir(path: Path) -> bool:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()


def _remove_any(path: Path) -> None:
    if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
        os.unlink(path)
    elif os.path.lexists(path):
        _rmtree(path)


def _sync_tree(src: str, dst: str) -> None:
    """Make `dst` hold what `src` holds, as hard links; entries already linked are left alone.

    scandir gives inode numbers without a stat call: an entry of `dst` with the
    same inode as in `src` is the same file, bytes, mode and mtime alike.
    Symlinks are compared by target and never followed.
    """
    link, symlink, readlink, mkdir = os.link, os.symlink, os.readlink, os.mkdir
    stack = [(src, dst)]
    while stack:
        src_dir, dst_dir = stack.pop()
        top = src_dir == src
        # owner rwx always: regops must write into and clean up its own staging tree
        mode = (os.lstat(src_dir).st_mode & 0o7777) | 0o700
        if os.lstat(dst_dir).st_mode & 0o7777 != mode:
            os.chmod(dst_dir, mode)
        with os.scandir(dst_dir) as entries:
            have = {e.name: e for e in entries}
        with os.scandir(src_dir) as entries:
            for entry in entries:
                dst = dst_dir + os.sep + entry.name
                old = have.pop(entry.name, None)
                if top and entry.name == _IGNORE and (entry.is_symlink() or not entry.is_dir(follow_symlinks=False)):
                    # the spare's marker stands in for it until the swap (_unmark_spare)
                    if old is not None and old.is_dir(follow_symlinks=False) and not old.is_symlink():
                        _remove_any(Path(old.path))
                    continue
                if entry.is_symlink():
                    target = readlink(entry.path)
                    if old is not None:
                        if old.is_symlink() and readlink(old.path) == target:
                            continue
                        _remove_any(Path(old.path))
                    symlink(target, dst)
                elif entry.is_dir(follow_symlinks=False):
                    if old is not None and not (old.is_dir(follow_symlinks=False) and not old.is_symlink()):
                        _remove_any(Path(old.path))
                        old = None
                    if old is None:
                        mkdir(dst, 0o700)
                    stack.append((entry.path, dst))
                else:
                    if old is not None:
                        if old.inode() == entry.inode() and not old.is_symlink() and not old.is_dir(follow_symlinks=False):
                            continue
                        _drop_entry(old)
                    try:
                        link(entry.path, dst, follow_symlinks=False)
                    except OSError:
                        shutil.copy2(entry.path, dst, follow_symlinks=False)
        for name, old in have.items():  # gone from the live tree
            if not (top and name == _IGNORE and (old.is_symlink() or not old.is_dir(follow_symlinks=False))):
                _drop_entry(old)


def _drop_entry(entry: os.DirEntry) -> None:
    """Remove a scanned entry of the spare: its type is known, so no extra stat calls."""
    if entry.is_dir(follow_symlinks=False):
        _rmtree(Path(entry.path))
    else:
        os.unlink(entry.path)


def _rmtree(path: Path) -> None:
    """Remove a tree regops staged or replaced, even where its directories were read-only."""

    def retry(func, name, _exc) -> None:
        try:
            parent = os.path.dirname(name)
            os.chmod(parent, os.lstat(parent).st_mode | 0o700)
            if os.path.isdir(name) and not os.path.islink(name):
                os.chmod(name, os.lstat(name).st_mode | 0o700)
            func(name)
        except OSError:
            pass

    if os.path.lexists(path):
        with contextlib.suppress(OSError):
            os.chmod(path, os.lstat(path).st_mode | 0o700)
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=retry)
        else:
            shutil.rmtree(path, onerror=retry)


def _exchange(a: Path, b: Path) -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _swap_in(output: Path, staging: Path) -> None:
    """Exchange the staged tree with the output; the old tree stays at `staging` as the next spare."""
    _unmark_spare(staging, output)
    if not output.exists():
        os.rename(staging, output)
        return
    if not _exchange(staging, output):
        old = Path(tempfile.mkdtemp(prefix=f".{output.name}.regops-old-", dir=output.parent))
        os.rmdir(old)
        os.rename(output, old)
        os.rename(staging, output)
        os.rename(old, staging)
    with contextlib.suppress(OSError):  # only cosmetic: the next render marks it again
        _mark_spare(staging)


def clean_leftovers(output: Path) -> None:
    """Remove staging and old trees that a killed render left beside the output."""
    parent = output.parent
    if not parent.is_dir():
        return
    if not output.exists():
        # Killed between the two renames of the fallback swap: put the old tree back.
        olds = sorted(parent.glob(f".{output.name}.regops-old-*"))
        if olds:
            os.rename(olds[0], output)
    for entry in parent.iterdir():
        if entry.name.startswith((f".{output.name}.regops-new-", f".{output.name}.regops-old-")) and not entry.is_symlink():
            _rmtree(entry)


_INFO_SIZE = 512


def _lock_dir() -> Path:
    """A directory of this user's only (0700), for render locks."""
    base = Path(tempfile.gettempdir()) / f"regops-{os.getuid()}"
    try:
        base.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(base)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise OutputError(f"{base} is not a private directory of this user; remove it and render again")
    return base


@contextlib.contextmanager
def locked(output: Path, *, wait: bool = False) -> Iterator[None]:
    """One render at a time per output directory.

    The lock file lives in the temp directory, keyed by the output's real path:
    not inside the output (which gets swapped) and not beside it (it would show
    up in `git status` of the config repository).
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    real = os.path.realpath(output)
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    path = _lock_dir() / f"{digest}.lock"
    try:
        # O_NOFOLLOW: a symlink planted at the lock path is refused, never written through.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise OutputError(f"cannot open the render lock {path}: {exc.strerror}") from None
    try:
        try:
            # POSIX record locks belong to this process: forked render workers
            # do not inherit them, so a killed render never leaves the lock held.
            fcntl.lockf(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            who = "pid unknown (another render)"
            for _ in range(20):  # the holder writes who it is just after taking the lock
                holder = os.pread(fd, _INFO_SIZE, 0).decode("utf-8", "replace").strip()
                try:
                    info = json.loads(holder)
                    who = f"pid {info['pid']} on {info['host']} since {info['since']}"
                    break
                except (ValueError, KeyError, TypeError):
                    time.sleep(0.01)
            raise LockBusy(f"{output} is being rendered by {who}; wait for it or run with --wait") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        # One fixed-size write, never a truncate: a reader sees the old holder or the new one, not nothing.
        os.pwrite(fd, json.dumps(info).encode().ljust(_INFO_SIZE), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
