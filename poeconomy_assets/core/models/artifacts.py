"""Model artifacts on disk: native files, a ``manifest.json`` that records each file's sha256, and
``manifest.sig``, an HMAC-SHA256 of the manifest's bytes under a key kept OUTSIDE the model folder.

What protects a load, in this order, before any native parser (LightGBM, XGBoost, NumPy, Parquet) reads a byte:
- the folder, the manifest, its signature and every listed file must be regular files and folders, not symlinks;
- the manifest's signature must verify under the store's key (:func:`verify_signature`): the manifest sits in
  the same folder as the models, so on its own it only detects corruption; signed, a file changed on disk is
  refused even when its new sha256 was written into the manifest (LightGBM's parser aborts or segfaults on
  crafted text, so "parse and see" is not an option). An unsigned folder (saved before signing, or by someone
  without the key) is refused;
- the manifest must be a JSON object that lists files; a manifest that lists a pickle-like file (``.joblib``,
  ``.pkl``, ...) is refused, and no model file is a pickle (LightGBM text, XGBoost JSON, ``.npy`` read with
  ``allow_pickle=False``);
- every listed file's hash is checked before any file is parsed, and the loaders check that the manifest lists
  every file the model needs (a forest with weight, ``residuals.npy``) and every field (``weights`` ...).

The key comes from the model store's configuration (``POECONOMY_MODEL_SIGNING_KEY``, an ``EnvVar``) or from a
key file beside, never inside, the model folders (:func:`load_or_create_key`). SECURITY.md says what it does not
protect against.

Saving never destroys the previous model: files are written to a staging folder beside the target, which is
renamed into place only when complete (see :func:`replace_directory`); a load that finds no target but a
complete previous version (a kill between the two renames) uses that one, and the next save cleans up.
"""

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

from poeconomy_assets.core.files import pid_alive

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNATURE_ALGORITHM = "hmac-sha256"
KEY_ENV = "POECONOMY_MODEL_SIGNING_KEY"  # the key itself (production: every process and worker the same)
KEY_FILE_ENV = "POECONOMY_MODEL_SIGNING_KEY_FILE"  # or a file holding it (created on first use when absent)
KEY_FILE_NAME = "model_signing.key"  # the default key file, beside the model folders (see ModelStore)
MIN_KEY_BYTES = 16
MAX_MANIFEST_BYTES = 16 * 1024 * 1024  # read before its signature is checked: bounded
MAX_SIGNATURE_BYTES = 4096
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


def key_from_secret(secret: str | bytes) -> bytes:
    """A signing key from configured text (an environment variable, resource config); at least 16 bytes."""
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(key.strip()) < MIN_KEY_BYTES:
        raise ValueError(
            f"the model signing key must be at least {MIN_KEY_BYTES} bytes (got {len(key.strip())}); "
            f"e.g. {KEY_ENV}=$(python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return key.strip()


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``; a new random one (owner-only permissions) when the file does not exist yet.

    The file must be a regular file, not a symlink, and not writable by group or others (whoever can rewrite
    the key can sign models)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    mode = os.lstat(path).st_mode
    if not stat.S_ISREG(mode):
        raise ArtifactIntegrityError(f"{path}: the model signing key file is not a regular file (symlink?)")
    if mode & 0o022:
        raise ArtifactIntegrityError(
            f"{path}: the model signing key file is writable by group or others "
            f"(mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )
    return key_from_secret(path.read_bytes())


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key (names which key signed a folder, reveals nothing of it)."""
    return hashlib.sha256(b"poeconomy model signing key id\0" + key).hexdigest()[:12]


def _mac(key: bytes, manifest_bytes: bytes) -> str:
    return hmac.new(key, manifest_bytes, hashlib.sha256).hexdigest()


def write_manifest(directory: Path, files: list[str], fields: dict, *, key: bytes) -> dict:
    """Hash ``files`` (names inside ``directory``), write the manifest with ``fields`` and sign it with ``key``
    (``manifest.sig``); returns the manifest."""
    directory = Path(directory)
    manifest = {
        **fields,
        "files": {name: sha256(directory / name) for name in files},
        "code_version": CODE_VERSION,
        "git_commit": _git_commit(),
    }
    data = json.dumps(manifest, indent=1, sort_keys=True, default=_jsonable).encode("utf-8")
    (directory / MANIFEST).write_bytes(data)
    sign(directory, key)
    return manifest


def sign(directory: Path, key: bytes) -> None:
    """(Re)write ``manifest.sig`` for the manifest as it is on disk now."""
    directory = Path(directory)
    data = (directory / MANIFEST).read_bytes()
    signature = {"algorithm": SIGNATURE_ALGORITHM, "key_id": key_id(key), "mac": _mac(key, data)}
    (directory / SIGNATURE).write_text(json.dumps(signature) + "\n")


def _read_bounded(path: Path, limit: int, kind: str) -> bytes:
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ArtifactIntegrityError(f"{path}: {kind} is over {limit} bytes; refusing to load")
    return data


def verify_signature(directory: Path, key: bytes) -> bytes:
    """The manifest's bytes, once ``manifest.sig`` proves they were written by a holder of ``key``.

    Nothing else of the folder is read before (not even the manifest as JSON)."""
    directory = Path(directory)
    path, signature_path = directory / MANIFEST, directory / SIGNATURE
    _require_plain(directory, "model folder")
    if not os.path.lexists(path):
        raise ArtifactIntegrityError(f"{path}: no manifest; refusing to load unverified model files")
    _require_plain(path, "manifest")
    if not os.path.lexists(signature_path):
        raise ArtifactIntegrityError(
            f"{signature_path}: missing: the model is unsigned (saved before models were signed, or not by this "
            "store); refusing to load it before any parser reads it. Retrain it (the next training run saves a "
            "signed model)"
        )
    _require_plain(signature_path, "signature")
    data = _read_bounded(path, MAX_MANIFEST_BYTES, "manifest")
    try:
        signature = json.loads(
            _read_bounded(signature_path, MAX_SIGNATURE_BYTES, "signature").decode("utf-8")
        )
        algorithm, signer, mac = signature["algorithm"], signature["key_id"], signature["mac"]
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError) as exc:
        raise ArtifactIntegrityError(
            f"{signature_path}: not a signature ({type(exc).__name__}); refusing to load"
        ) from None
    if algorithm != SIGNATURE_ALGORITHM or not isinstance(mac, str):
        raise ArtifactIntegrityError(
            f"{signature_path}: algorithm {algorithm!r} is not {SIGNATURE_ALGORITHM}"
        )
    if not hmac.compare_digest(mac.encode("ascii", "replace"), _mac(key, data).encode("ascii")):
        why = (
            f"signed with another key (key id {signer!r}, this store's is {key_id(key)!r})"
            if signer != key_id(key)
            else "changed since it was signed (a model file or the manifest was modified on disk)"
        )
        raise ArtifactIntegrityError(f"{path}: signature does not verify: {why}; refusing to load")
    return data


def read_signed_manifest(directory: Path, key: bytes) -> dict:
    """The manifest, after its signature verified (files not hashed: see :func:`verify_files`)."""
    directory = Path(directory)
    path = directory / MANIFEST
    data = verify_signature(directory, key)
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ArtifactIntegrityError(
            f"{path}: manifest is not valid JSON ({exc}); refusing to load"
        ) from None
    if not isinstance(manifest, dict):
        raise ArtifactIntegrityError(f"{path}: manifest is not a JSON object but a {type(manifest).__name__}")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise ArtifactIntegrityError(f"{path}: manifest lists no files")
    return manifest


def require_fields(manifest: dict, directory: Path, fields: dict[str, type | tuple[type, ...]]) -> None:
    """Every field of ``fields`` present in the manifest with its type; else ArtifactIntegrityError naming it."""
    for name, kind in fields.items():
        if name not in manifest:
            raise ArtifactIntegrityError(
                f"{Path(directory) / MANIFEST}: field {name!r} is missing; refusing to load a partial model"
            )
        if not isinstance(manifest[name], kind):
            raise ArtifactIntegrityError(
                f"{Path(directory) / MANIFEST}: field {name!r} is a "
                f"{type(manifest[name]).__name__}, not what a model stores there"
            )


def require_files(manifest: dict, directory: Path, names: list[str], why: str) -> None:
    """Each of ``names`` listed in the manifest; else ArtifactIntegrityError (never a half-loaded model)."""
    missing = [name for name in names if name not in manifest["files"]]
    if missing:
        raise ArtifactIntegrityError(
            f"{Path(directory) / MANIFEST}: does not list {', '.join(missing)} ({why}); "
            "refusing to load a partial model"
        )


def _require_plain(path: Path, kind: str) -> None:
    """``path`` exists as a regular file (or folder), not a symlink, FIFO or device."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise ArtifactIntegrityError(f"{path}: {kind} missing") from None
    if stat.S_ISLNK(mode):
        raise ArtifactIntegrityError(
            f"{path}: {kind} is a symlink; model files must be regular files in the "
            "model folder (refusing to load)"
        )
    wanted = stat.S_ISDIR if kind == "model folder" else stat.S_ISREG
    if not wanted(mode):
        raise ArtifactIntegrityError(
            f"{path}: {kind} is not a regular {'folder' if kind == 'model folder' else 'file'}"
        )


def read_verified_manifest(directory: Path, key: bytes) -> dict:
    """The manifest, after its signature verified and every file it lists was checked against its sha256."""
    directory = Path(directory)
    manifest = read_signed_manifest(directory, key)
    verify_files(directory, manifest, list(manifest["files"]))
    return manifest


def verify_files(directory: Path, manifest: dict, names: list[str]) -> None:
    """Check the listed files ``names`` of a signed manifest: plain names, no pickle format, regular files whose
    sha256 matches. Raises ArtifactIntegrityError naming the file."""
    directory = Path(directory)
    path = directory / MANIFEST
    files = manifest["files"]
    for name in names:
        digest = files.get(name) if isinstance(name, str) else None
        file = directory / name if isinstance(name, str) else directory
        if not isinstance(name, str) or Path(name).name != name or name in (".", ".."):
            raise ArtifactIntegrityError(f"{path}: file name {name!r} points outside the artifact directory")
        if name.lower().endswith(CODE_BEARING_SUFFIXES):
            raise ArtifactIntegrityError(
                f"{file}: listed in {MANIFEST} in a pickle format, which can run code when loaded; refusing "
                "(models saved before RandomForest moved to LightGBM text must be retrained)"
            )
        if name in (MANIFEST, SIGNATURE):
            raise ArtifactIntegrityError(f"{path}: lists {name} as a model file")
        if not os.path.lexists(file):
            raise ArtifactIntegrityError(f"{file}: listed in {MANIFEST} but missing")
        _require_plain(file, "model file")
        if not isinstance(digest, str) or sha256(file) != digest:
            raise ArtifactIntegrityError(f"{file}: sha256 differs from {MANIFEST}; refusing to load")


def _staging_name(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _leftovers(target: Path) -> list[tuple[Path, str, int]]:
    """(path, kind, pid) of staging and previous-version folders a save of ``target`` left beside it."""
    found = []
    prefix = f".{target.name}."
    for entry in target.parent.iterdir() if target.parent.is_dir() else []:
        if not entry.name.startswith(prefix):
            continue
        kind, _, rest = entry.name[len(prefix) :].partition("-")
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
    previous = [
        path for path, kind, _ in _leftovers(target) if kind == "previous" and (path / MANIFEST).exists()
    ]
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
            out = subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=Path(__file__).parent,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
            _COMMIT.append(out.stdout.strip() if out.returncode == 0 else "unknown")
        except (OSError, subprocess.SubprocessError):
            _COMMIT.append("unknown")
    return _COMMIT[0]
