"""ModelStore publishes whole models only: a save that dies half-way leaves the previous model in place."""

import dataclasses
import json

import numpy as np
import pytest

from poeconomy_assets.core.features.build import build_features
from poeconomy_assets.core.ingest.dumps import read_dump_dir
from poeconomy_assets.core.models import families
from poeconomy_assets.core.models.ensemble import train_currency_model
from poeconomy_assets.resources.model_store import ModelStore
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    dumps = tmp_path_factory.mktemp("dumps")
    write_dumps(SimulationConfig(n_leagues=3, n_currencies=3, seed=4, min_days=35, max_days=40), dumps)
    features = build_features(read_dump_dir(dumps).prices)
    return train_currency_model(features, "Exalted Orb", "1d", profile="test"), features


def test_repeated_saves_leave_one_whole_model_and_no_leftovers(trained, tmp_path) -> None:
    model, features = trained
    store = ModelStore(base_dir=str(tmp_path))
    for _ in range(3):
        store.save(model)
    directory = store.directory("Exalted Orb", "1d")
    assert directory.is_dir() and not directory.is_symlink()  # a plain folder, renamed into place
    assert sorted(p.name for p in directory.parent.iterdir()) == [
        "1d"
    ]  # no staging or previous versions left
    np.testing.assert_allclose(
        store.load("Exalted Orb", "1d").predict(features), model.predict(features), rtol=1e-9
    )


def test_a_save_killed_half_way_leaves_the_previous_model(trained, tmp_path, monkeypatch) -> None:
    model, features = trained
    store = ModelStore(base_dir=str(tmp_path))
    store.save(model)
    before = json.loads((store.directory("Exalted Orb", "1d") / "manifest.json").read_text())

    xgboost = families.FAMILIES["xgboost"]

    class DiesWhileSaving(type(xgboost)):
        def save(self, model, path) -> None:
            raise KeyboardInterrupt("worker lost mid-save")

    # The XGBoost file is the second written: LightGBM's file is on disk when the save dies.
    doomed = DiesWhileSaving(**{f.name: getattr(xgboost, f.name) for f in dataclasses.fields(xgboost)})
    monkeypatch.setitem(families.FAMILIES, "xgboost", doomed)
    with pytest.raises(KeyboardInterrupt):
        store.save(model)
    monkeypatch.undo()
    loaded = store.load("Exalted Orb", "1d")  # verified against its manifest: the old, whole model
    assert json.loads((store.directory("Exalted Orb", "1d") / "manifest.json").read_text()) == before
    np.testing.assert_allclose(loaded.predict(features), model.predict(features), rtol=1e-9)
