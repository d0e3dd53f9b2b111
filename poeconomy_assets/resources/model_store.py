"""Resource that keeps trained models on disk, one folder per currency × horizon."""

import json
from pathlib import Path

import dagster as dg

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.core.models.artifacts import MANIFEST, committed_directory, replace_directory
from poeconomy_assets.core.models.ensemble import PooledModel, TrainedModel


class ModelStore(dg.ConfigurableResource):
    """Model artifacts under ``{base_dir}/{currency key}/{horizon}/`` and each horizon's pooled model
    under ``{base_dir}/__pooled__/{horizon}/`` (native formats + manifest).

    A save writes a staging folder and renames it into place: the previous model stays loadable until the new
    one is complete, and a killed save's leftovers are removed by the next save."""

    base_dir: str

    def directory(self, currency: str, horizon: str) -> Path:
        """The model folder; always two levels under ``base_dir`` (keys cannot be ``..`` or hold ``/``)."""
        if not horizon or key_from_name(horizon) != horizon or horizon.startswith("."):
            raise ValueError(f"horizon {horizon!r} is not a plain name (e.g. '1d')")
        return Path(self.base_dir, key_from_name(currency), horizon)

    def save(self, model: TrainedModel) -> dict:
        with replace_directory(self.directory(model.currency, model.horizon)) as staging:
            return model.save(staging)

    def load(self, currency: str, horizon: str) -> TrainedModel:
        """Loads after checking every file's sha256 against the manifest (raises on mismatch)."""
        return TrainedModel.load(committed_directory(self.directory(currency, horizon)))

    def pooled_directory(self, horizon: str) -> Path:
        return Path(self.base_dir, "__pooled__", horizon)

    def save_pooled(self, pooled: PooledModel) -> dict:
        with replace_directory(self.pooled_directory(pooled.horizon)) as staging:
            return pooled.save(staging)

    def load_pooled(self, horizon: str) -> PooledModel:
        """The stored pooled model of ``horizon``, after checking its files' sha256 (raises on mismatch)."""
        return PooledModel.load(committed_directory(self.pooled_directory(horizon)))

    def pooled_manifest(self, horizon: str) -> dict:
        """The stored pooled model's manifest as written (files and their sha256, profile, trials...)."""
        return json.loads((committed_directory(self.pooled_directory(horizon)) / MANIFEST).read_text())
