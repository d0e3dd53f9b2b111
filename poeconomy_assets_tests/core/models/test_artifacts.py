import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.features.build import build_features
from poeconomy_assets.core.ingest.dumps import read_dump_dir
from poeconomy_assets.core.models.artifacts import (
    MANIFEST,
    ArtifactIntegrityError,
    read_verified_manifest,
    sign,
)
from poeconomy_assets.core.models.ensemble import TrainedModel, train_currency_model
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

MODEL_FILES = ["lightgbm.txt", "xgboost.json", "random_forest.txt", "residuals.npy"]
KEY = b"test-signing-key-0123456789abcdef"


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    dumps = tmp_path_factory.mktemp("dumps")
    write_dumps(SimulationConfig(n_leagues=3, n_currencies=3, seed=4, min_days=35, max_days=40), dumps)
    features = build_features(read_dump_dir(dumps).prices)
    directory = tmp_path_factory.mktemp("model")
    train_currency_model(features, "Exalted Orb", "1d", profile="test").save(directory, key=KEY)
    return directory, features


def _copy(source: Path, target: Path) -> Path:
    target.mkdir()
    for file in source.iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    return target


def test_manifest_records_hashes_params_features_metrics_and_versions(
    saved: tuple[Path, pl.DataFrame],
) -> None:
    directory, features = saved
    manifest = json.loads((directory / MANIFEST).read_text())
    assert set(manifest["files"]) == set(MODEL_FILES)
    assert all(len(digest) == 64 for digest in manifest["files"].values())
    assert {"lightgbm", "xgboost", "random_forest"} <= set(manifest["params"])
    assert "ret_7d" in manifest["features"] and manifest["metrics"]["rel_mae"] > 0
    for key in ("train_seconds", "peak_rss_mb", "trials", "pooled_model"):
        assert key in manifest["metrics"]
    assert manifest["data_version"] and manifest["code_version"] and manifest["git_commit"]
    model = TrainedModel.load(directory, key=KEY)
    rows = features.filter(pl.col("currency") == "Exalted Orb").tail(3)
    assert np.isfinite(model.predict(rows)).all()


@pytest.mark.parametrize("name", MODEL_FILES)
def test_a_tampered_file_is_refused_before_it_is_read(
    saved: tuple[Path, pl.DataFrame], tmp_path: Path, name: str
) -> None:
    directory = _copy(saved[0], tmp_path / "copy")
    data = bytearray((directory / name).read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    (directory / name).write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match=f"{name}: sha256 differs"):
        TrainedModel.load(directory, key=KEY)


def test_a_swapped_pickle_never_runs(saved: tuple[Path, pl.DataFrame], tmp_path: Path) -> None:
    """A malicious joblib file is never opened (no loader reads pickles), so its payload never executes."""
    import joblib

    directory = _copy(saved[0], tmp_path / "copy")
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    joblib.dump(Payload(), directory / "random_forest.txt")
    with pytest.raises(ArtifactIntegrityError):
        TrainedModel.load(directory, key=KEY)
    assert not marker.exists()


def test_missing_manifest_file_or_escaping_name_is_refused(
    saved: tuple[Path, pl.DataFrame], tmp_path: Path
) -> None:
    no_manifest = _copy(saved[0], tmp_path / "a")
    (no_manifest / MANIFEST).unlink()
    with pytest.raises(ArtifactIntegrityError, match="no manifest"):
        read_verified_manifest(no_manifest, KEY)
    missing = _copy(saved[0], tmp_path / "b")
    (missing / "xgboost.json").unlink()
    with pytest.raises(ArtifactIntegrityError, match="missing"):
        TrainedModel.load(missing, key=KEY)
    escaping = _copy(saved[0], tmp_path / "c")
    manifest = json.loads((escaping / MANIFEST).read_text())
    manifest["files"]["../outside"] = "0" * 64
    (escaping / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactIntegrityError, match="signature does not verify"):
        read_verified_manifest(escaping, KEY)
    sign(escaping, KEY)  # even signed (a writer holding the key, or a bug): the name is refused
    with pytest.raises(ArtifactIntegrityError, match="outside"):
        read_verified_manifest(escaping, KEY)
