from pathlib import Path

import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.dumps import read_dump_dir
from poeconomy_assets.core.ensemble import ArtifactIntegrityError, TrainedModel, score, train_currency_model
from poeconomy_assets.core.features import build_features
from poeconomy_assets.core.simulator import SimulationConfig, write_dumps


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    directory = tmp_path_factory.mktemp("dumps")
    write_dumps(SimulationConfig(n_leagues=3, n_currencies=4, seed=2, min_days=40, max_days=45), directory)
    return build_features(read_dump_dir(directory).prices)


def test_test_profile_trains_and_reports_persistence_comparison(features: pl.DataFrame) -> None:
    model = train_currency_model(features, "Divine Orb", "3d", profile="test")
    m = model.metrics
    assert m["n_val"] > 10 and m["mae_persistence"] > 0
    assert m["mase"] == pytest.approx(m["mae_model"] / m["mae_persistence"])
    assert model.residuals.size == m["n_val"]
    assert model.predict(features.tail(5)).shape == (5,)


def test_saved_model_reloads_and_predicts_the_same(features: pl.DataFrame, tmp_path: Path) -> None:
    model = train_currency_model(features, "Exalted Orb", "1d")
    model.save(tmp_path)
    again = TrainedModel.load(tmp_path)
    rows = features.filter(pl.col("currency") == "Exalted Orb").tail(20)
    np.testing.assert_allclose(again.predict(rows), model.predict(rows))


def test_tampered_artifact_is_refused(features: pl.DataFrame, tmp_path: Path) -> None:
    train_currency_model(features, "Exalted Orb", "1d").save(tmp_path)
    model_file = next(p for p in tmp_path.iterdir() if p.name != "manifest.json" and p.suffix != ".npy")
    model_file.write_text(model_file.read_text().replace("tree", "tree ", 1))
    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        TrainedModel.load(tmp_path)


def test_score_against_persistence_by_hand() -> None:
    price = np.array([10.0, 10.0])
    actual = np.log(np.array([11.0, 9.0]) / price)
    predicted = np.log(np.array([10.5, 9.5]) / price)
    m = score(price, actual, predicted)
    assert m["mae_model"] == pytest.approx(0.5) and m["mae_persistence"] == pytest.approx(1.0)
    assert m["mase"] == pytest.approx(0.5) and m["direction_accuracy"] == 1.0
