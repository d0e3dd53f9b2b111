"""Resource that keeps trained models on disk, one folder per currency × horizon."""

import json
from pathlib import Path

import dagster as dg

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.core.models.artifacts import MANIFEST
from poeconomy_assets.core.models.ensemble import PooledModel, TrainedModel


class ModelStore(dg.ConfigurableResource):
    """Model artifacts under ``{base_dir}/{currency key}/{horizon}/`` and each horizon's pooled model
    under ``{base_dir}/__pooled__/{horizon}/`` (native formats + manifest)."""

    base_dir: str

    def directory(self, currency: str, horizon: str) -> Path:
        return Path(self.base_dir, key_from_name(currency), horizon)

    def save(self, model: TrainedModel) -> dict:
        return model.save(self.directory(model.currency, model.horizon))

    def load(self, currency: str, horizon: str) -> TrainedModel:
        """Loads after checking every file's sha256 against the manifest (raises on mismatch)."""
        return TrainedModel.load(self.directory(currency, horizon))

    def pooled_directory(self, horizon: str) -> Path:
        return Path(self.base_dir, "__pooled__", horizon)

    def save_pooled(self, pooled: PooledModel) -> dict:
        return pooled.save(self.pooled_directory(pooled.horizon))

    def load_pooled(self, horizon: str) -> PooledModel:
        """The stored pooled model of ``horizon``, after checking its files' sha256 (raises on mismatch)."""
        return PooledModel.load(self.pooled_directory(horizon))

    def pooled_manifest(self, horizon: str) -> dict:
        """The stored pooled model's manifest as written (files and their sha256, profile, trials...)."""
        return json.loads((self.pooled_directory(horizon) / MANIFEST).read_text())
