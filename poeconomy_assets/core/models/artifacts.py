"""Model artifacts on disk: native files plus a ``manifest.json`` that records each file's sha256.

What protects a load:
- no model file is a pickle (LightGBM text, XGBoost JSON, ``.npy`` read with ``allow_pickle=False``); a manifest
  that lists a pickle-like file (``.joblib``, ``.pkl``, ...) is refused, so even an attacker who can write the
  folder (and rewrite the manifest's hashes) cannot make a load run code: the worst they get is a wrong model;
- every hash is checked before any file is parsed, so a truncated or corrupted file is refused, not read;
- the folder, the manifest and every listed file must be regular files and folders, not symlinks; the manifest
  must be a JSON object.

Saving never destroys the previous model: files are written to a staging folder beside the target, which is
renamed into place only when complete (see :func:`replace_directory`); a load that finds no target but a
complete previous version (a kill between the two renames) uses that one, and the next save cleans up.
"""

import contextlib
import hashlib
import json
import os
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

from poeconomy_assets.core.files import pid_alive

MANIFEST = "manifest.json"
CODE_VERSION = "ensemble-4"  # 4: RandomForest saved as LightGBM text (rf mode), never joblib
# Formats whose loaders can execute code: never loaded, and a manifest listing one is refused.
CODE_BEARING_SUFFIXES = (".joblib", ".pkl", ".pickle", ".dill", ".pt", ".pth", ".sav", ".cloudpickle")


class ArtifactIntegrityError(RuntimeError):
    """A model file differs from what its manifest recorded: it is refused, never loaded."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def clear_directory(directory: Path) -> Path:
    """Create ``directory`` or empty it of files from an earlier save (stale files would be unverified)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.iterdir():
        if stale.is_file():
            stale.unlink()
    return directory


def write_manifest(directory: Path, files: list[str], fields: dict) -> dict:
    """Hash ``files`` (names inside ``directory``) and write the manifest with ``fields``; returns it."""
    directory = Path(directory)
    manifest = {**fields, "files": {name: sha256(directory / name) for name in files},
                "code_version": CODE_VERSION, "git_commit": _git_commit()}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True, default=_jsonable))
    return manifest


def _require_plain(path: Path, kind: str) -> None:
    """``path`` exists as a regular file (or folder), not a symlink, FIFO or device."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise ArtifactIntegrityError(f"{path}: {kind} missing") from None
    if stat.S_ISLNK(mode):
        raise ArtifactIntegrityError(f"{path}: {kind} is a symlink; model files must be regular files in the "
                                     "model folder (refusing to load)")
    wanted = stat.S_ISDIR if kind == "model folder" else stat.S_ISREG
    if not wanted(mode):
        raise ArtifactIntegrityError(f"{path}: {kind} is not a regular {'folder' if kind == 'model folder' else 'file'}")


def read_verified_manifest(directory: Path) -> dict:
    """The manifest, after checking that every file it lists exists and matches its sha256."""
    directory = Path(directory)
    path = directory / MANIFEST
    _require_plain(directory, "model folder")
    if not os.path.lexists(path):
        raise ArtifactIntegrityError(f"{path}: no manifest; refusing to load unverified model files")
    _require_plain(path, "manifest")
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactIntegrityError(f"{path}: manifest is not valid JSON ({exc}); refusing to load") from None
    if not isinstance(manifest, dict):
        raise ArtifactIntegrityError(f"{path}: manifest is not a JSON object but a {type(manifest).__name__}")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise ArtifactIntegrityError(f"{path}: manifest lists no files")
    for name, digest in files.items():
        file = directory / name
        if not isinstance(name, str) or Path(name).name != name or name in (".", ".."):
            raise ArtifactIntegrityError(f"{path}: file name {name!r} points outside the artifact directory")
        if name.lower().endswith(CODE_BEARING_SUFFIXES):
            raise ArtifactIntegrityError(
                f"{file}: listed in {MANIFEST} in a pickle format, which can run code when loaded; refusing "
                "(models saved before RandomForest moved to LightGBM text must be retrained)")
        if not os.path.lexists(file):
            raise ArtifactIntegrityError(f"{file}: listed in {MANIFEST} but missing")
        _require_plain(file, "model file")
        if sha256(file) != digest:
            raise ArtifactIntegrityError(f"{file}: sha256 differs from {MANIFEST}; refusing to load")
    return manifest


def _staging_name(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _leftovers(target: Path) -> list[tuple[Path, str, int]]:
    """(path, kind, pid) of staging and previous-version folders a save of ``target`` left beside it."""
    found = []
    prefix = f".{target.name}."
    for entry in target.parent.iterdir() if target.parent.is_dir() else []:
        if not entry.name.startswith(prefix):
            continue
        kind, _, rest = entry.name[len(prefix):].partition("-")
        pid = rest.split("-", 1)[0]
        if kind in ("staging", "previous") and pid.isdigit():
            found.append((entry, kind, int(pid)))
    return found


def committed_directory(target: Path) -> Path:
    """Where the current model of ``target`` is: ``target``, or (after a kill between the two renames of a save)
    the complete previous version beside it."""
    target = Path(target)
    if os.path.lexists(target):
        return target
    previous = [path for path, kind, _ in _leftovers(target) if kind == "previous" and (path / MANIFEST).exists()]
    return max(previous, key=lambda p: p.stat().st_mtime) if previous else target


def remove_leftovers(target: Path) -> None:
    """Restore a previous version a killed save left without a target, and delete staging folders of dead
    processes and previous versions that were replaced."""
    target = Path(target)
    committed = committed_directory(target)
    if committed != target:
        os.rename(committed, target)
    for path, kind, pid in _leftovers(target):
        if kind == "previous" or not pid_alive(pid):
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def replace_directory(target: Path) -> Iterator[Path]:
    """Yield an empty staging folder; when the block succeeds, it replaces ``target`` (rename, not copy).

    Until then ``target`` is untouched, so a failed or killed save leaves the previous model loadable."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    staging = _staging_name(target, "staging")
    staging.mkdir()
    try:
        yield staging
        for attempt in range(5):  # another process may be swapping the same target at the same moment
            previous = _staging_name(target, "previous")
            try:
                if os.path.lexists(target):
                    os.rename(target, previous)
                os.rename(staging, target)
                break
            except OSError:
                if attempt == 4:
                    raise
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _jsonable(value: object) -> object:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


_COMMIT: list[str] = []


def _git_commit() -> str:
    """The code version models were trained with (the commit of this checkout, when it is one)."""
    if not _COMMIT:
        try:
            out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                 text=True, timeout=5, check=False)
            _COMMIT.append(out.stdout.strip() if out.returncode == 0 else "unknown")
        except (OSError, subprocess.SubprocessError):
            _COMMIT.append("unknown")
    return _COMMIT[0]
