"""Resource that keeps trained models on disk, one folder per currency × horizon."""

import os
import shutil
import time
from pathlib import Path

import dagster as dg

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.core.models.ensemble import TrainedModel

KEEP_VERSIONS = 2  # the current model and the one before (a reader may still be loading it)


class ModelStore(dg.ConfigurableResource):
    """Model artifacts under ``{base_dir}/{currency key}/{horizon}/`` (native formats + manifest).

    ``{horizon}`` is a symlink to a complete version in ``.{horizon}.versions/``: a model is written in full
    to a new version folder, then the link is swapped in one atomic rename. A step killed mid-save (a lost
    Celery worker) leaves the previous model in place, and two steps saving the same model at once (a
    redelivered step) each publish a whole version, never a mix of both.
    """

    base_dir: str

    def directory(self, currency: str, horizon: str) -> Path:
        return Path(self.base_dir, key_from_name(currency), horizon)

    def save(self, model: TrainedModel) -> dict:
        final = self.directory(model.currency, model.horizon)
        versions = final.parent / f".{final.name}.versions"
        version = versions / f"{time.time_ns()}-{os.getpid()}"
        manifest = model.save(version)
        link = final.parent / f".{final.name}.link-{os.getpid()}"
        link.unlink(missing_ok=True)
        link.symlink_to(version.relative_to(final.parent))
        if final.is_dir() and not final.is_symlink():  # a folder written before versions existed
            shutil.rmtree(final)
        os.replace(link, final)  # atomic: readers see the old model or the new one, never a half
        for old in sorted(versions.iterdir())[:-KEEP_VERSIONS]:
            if old != version:
                shutil.rmtree(old, ignore_errors=True)
        return manifest

    def load(self, currency: str, horizon: str) -> TrainedModel:
        """Loads after checking every file's sha256 against the manifest (raises on mismatch)."""
        return TrainedModel.load(self.directory(currency, horizon))
