"""Resource that keeps trained models on disk, one folder per currency × horizon, signed with a key kept
outside the model folders (see ``core.models.artifacts`` and SECURITY.md)."""

import os
from pathlib import Path

import dagster as dg
import numpy as np

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.core.models import (
    KEY_FILE_NAME,
    MANIFEST,
    ArtifactIntegrityError,
    PooledModel,
    TrainedModel,
    committed_directory,
    key_from_secret,
    load_or_create_key,
    read_signed_manifest,
    replace_directory,
    verify_files,
)

RESIDUALS = "residuals.npy"


class ModelStore(dg.ConfigurableResource):
    """Model artifacts under ``{base_dir}/{currency key}/{horizon}/`` and each horizon's pooled model
    under ``{base_dir}/__pooled__/{horizon}/`` (native formats + manifest + its HMAC signature).

    The signing key: ``signing_key`` (configure it as ``dg.EnvVar("POECONOMY_MODEL_SIGNING_KEY")``, so the run
    config shows the variable's name, never the key), else the file ``signing_key_file``, else
    ``model_signing.key`` beside ``base_dir`` (never inside it), created with owner-only permissions on first use.
    Every process that saves or loads models must see the same key (on a cluster: the variable, or the key file
    on the shared mount). A model that does not verify under it is refused before any parser reads it.

    A save writes a staging folder and renames it into place: the previous model stays loadable until the new
    one is complete, and a killed save's leftovers are removed by the next save."""

    base_dir: str
    signing_key: str | None = None
    signing_key_file: str | None = None

    def key(self) -> bytes:
        """The HMAC key models are signed and verified with (see the class docstring)."""
        secret = self.signing_key
        if isinstance(
            secret, dg.EnvVar
        ):  # used outside a run (scripts, the CLI): Dagster has not resolved it
            name = secret.env_var_name
            secret = secret.get_value()
            if not secret:
                raise ArtifactIntegrityError(
                    f"the model signing key variable {name} is not set in this process"
                )
        if secret:
            return key_from_secret(secret)
        path = (
            Path(self.signing_key_file)
            if self.signing_key_file
            else Path(self.base_dir).parent / KEY_FILE_NAME
        )
        resolved, models = path.resolve(), Path(self.base_dir).resolve()
        if resolved.is_relative_to(models):
            raise ArtifactIntegrityError(
                f"the model signing key file {path} is inside the model folder {models}: "
                "whoever can write models could then sign them; keep it outside"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        return load_or_create_key(path)

    def directory(self, currency: str, horizon: str) -> Path:
        """The model folder; always two levels under ``base_dir`` (keys cannot be ``..`` or hold ``/``)."""
        if not horizon or key_from_name(horizon) != horizon or horizon.startswith("."):
            raise ValueError(f"horizon {horizon!r} is not a plain name (e.g. '1d')")
        return Path(self.base_dir, key_from_name(currency), horizon)

    def save(self, model: TrainedModel) -> dict:
        key = self.key()
        with replace_directory(self.directory(model.currency, model.horizon)) as staging:
            return model.save(staging, key=key)

    def load(self, currency: str, horizon: str) -> TrainedModel:
        """Loads after verifying the signature and every file's sha256 (raises ArtifactIntegrityError)."""
        return TrainedModel.load(committed_directory(self.directory(currency, horizon)), key=self.key())

    def read_manifest(self, currency: str, horizon: str) -> dict | None:
        """The stored model's manifest once its signature verified; None when no model is stored.

        Raises ArtifactIntegrityError (naming the file and the problem) for an unsigned, mismatched, malformed or
        symlinked manifest. The model files themselves are not hashed here (see ``load``)."""
        directory = committed_directory(self.directory(currency, horizon))
        if not os.path.lexists(directory) or not os.path.lexists(directory / MANIFEST):
            return None
        return read_signed_manifest(directory, self.key())

    def stored_residuals(
        self, currencies: list[str], horizon: str
    ) -> tuple[list[tuple[dict, np.ndarray]], dict[str, str]]:
        """``(found, skipped)``: (manifest, walk-forward residuals) of every stored model of ``horizon`` whose
        signed manifest lists ``residuals.npy`` with a matching sha256; and currency -> why its model was skipped
        (unsigned, mismatched, malformed manifest, residuals not listed or unreadable). Currencies without a
        model are in neither. One bad model never costs the others (the members are not loaded)."""
        found, skipped = [], {}
        key = self.key()
        for currency in currencies:
            try:
                directory = committed_directory(self.directory(currency, horizon))
                if not os.path.lexists(directory) or not os.path.lexists(directory / MANIFEST):
                    continue
                manifest = read_signed_manifest(directory, key)
                if RESIDUALS not in manifest["files"]:
                    raise ArtifactIntegrityError(f"{directory / MANIFEST}: does not list {RESIDUALS}")
                verify_files(directory, manifest, [RESIDUALS])
                residuals = np.load(directory / RESIDUALS, allow_pickle=False)
                if residuals.dtype.kind not in "fiu" or residuals.ndim != 1:
                    raise ArtifactIntegrityError(
                        f"{directory / RESIDUALS}: not a 1-d array of numbers "
                        f"({residuals.dtype}, {residuals.ndim} dimensions)"
                    )
                found.append((manifest, residuals.astype(float)))
            except (ArtifactIntegrityError, ValueError, OSError) as exc:
                skipped[currency] = str(exc)[:300]
        return found, skipped

    def pooled_directory(self, horizon: str) -> Path:
        return Path(self.base_dir, "__pooled__", horizon)

    def save_pooled(self, pooled: PooledModel) -> dict:
        key = self.key()
        with replace_directory(self.pooled_directory(pooled.horizon)) as staging:
            return pooled.save(staging, key=key)

    def load_pooled(self, horizon: str) -> PooledModel:
        """The stored pooled model of ``horizon``, after verifying its signature and files (raises on mismatch)."""
        return PooledModel.load(committed_directory(self.pooled_directory(horizon)), key=self.key())

    def pooled_manifest(self, horizon: str) -> dict:
        """The stored pooled model's manifest as written (files and their sha256, profile, trials...), once its
        signature verified."""
        return read_signed_manifest(committed_directory(self.pooled_directory(horizon)), self.key())
