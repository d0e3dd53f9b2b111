"""Model artifacts on disk: native files plus a ``manifest.json`` that records each file's sha256.

Loading checks every hash before any file is parsed, so a tampered or truncated file (and above
all a pickle, which runs code when loaded) is refused rather than read.
"""

import hashlib
import json
import subprocess
from pathlib import Path

MANIFEST = "manifest.json"
CODE_VERSION = "ensemble-3"


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


def read_verified_manifest(directory: Path) -> dict:
    """The manifest, after checking that every file it lists exists and matches its sha256."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.exists():
        raise ArtifactIntegrityError(f"{path}: no manifest; refusing to load unverified model files")
    manifest = json.loads(path.read_text())
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise ArtifactIntegrityError(f"{path}: manifest lists no files")
    for name, digest in files.items():
        file = directory / name
        if Path(name).name != name:
            raise ArtifactIntegrityError(f"{path}: file name {name!r} points outside the artifact directory")
        if not file.exists():
            raise ArtifactIntegrityError(f"{file}: listed in {MANIFEST} but missing")
        if sha256(file) != digest:
            raise ArtifactIntegrityError(f"{file}: sha256 differs from {MANIFEST}; refusing to load")
    return manifest


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
