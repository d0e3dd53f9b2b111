"""Issue 21: model files are trusted through an HMAC key kept outside their folder, and refused BEFORE any
native parser (LightGBM, XGBoost, NumPy) reads them when they do not verify.

A manifest in the same folder is no trust anchor: 24 of 33 mutated LightGBM/forest/XGBoost files whose sha256
was updated in the manifest killed the loading process (SIGABRT, SIGSEGV). Signed, such a file never reaches
the parser.
"""

import json
import os
import stat
from pathlib import Path

import lightgbm
import numpy as np
import polars as pl
import pytest
import xgboost

from poeconomy_assets.core.features.build import build_features
from poeconomy_assets.core.ingest.dumps import read_dump_dir
from poeconomy_assets.core.models.artifacts import (
    KEY_FILE_NAME,
    MANIFEST,
    SIGNATURE,
    ArtifactIntegrityError,
    sha256,
    sign,
)
from poeconomy_assets.core.models.ensemble import TrainedModel, train_currency_model, train_pooled_model
from poeconomy_assets.resources.model_store import ModelStore
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

CURRENCIES = ["Exalted Orb", "Divine Orb"]
NATIVE_FILES = ["lightgbm.txt", "xgboost.json", "random_forest.txt", "residuals.npy"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TrainedModel]:
    dumps = tmp_path_factory.mktemp("dumps")
    write_dumps(SimulationConfig(n_leagues=3, n_currencies=3, seed=4, min_days=35, max_days=40), dumps)
    features = build_features(read_dump_dir(dumps).prices)
    pooled = train_pooled_model(features, "1d", profile="test")
    return {c: train_currency_model(features, c, "1d", pooled=pooled) for c in CURRENCIES}


@pytest.fixture
def store(models, tmp_path: Path) -> ModelStore:
    store = ModelStore(base_dir=str(tmp_path / "models"))
    for model in models.values():
        store.save(model)
    return store


@pytest.fixture
def native_reads(monkeypatch) -> list[str]:
    """Every call into a native model parser, recorded (and still performed)."""
    calls: list[str] = []
    booster_init, xgb_load, np_load = lightgbm.Booster.__init__, xgboost.Booster.load_model, np.load

    def lgb_init(self, *args, **kwargs):
        calls.append(f"lightgbm {kwargs.get('model_file')}")
        return booster_init(self, *args, **kwargs)

    def xgb(self, fname):
        calls.append(f"xgboost {fname}")
        return xgb_load(self, fname)

    def npy(file, *args, **kwargs):
        calls.append(f"numpy {file}")
        return np_load(file, *args, **kwargs)

    monkeypatch.setattr(lightgbm.Booster, "__init__", lgb_init)
    monkeypatch.setattr(xgboost.Booster, "load_model", xgb)
    monkeypatch.setattr(np, "load", npy)
    return calls


def _edit_manifest(directory: Path, change) -> None:
    manifest = json.loads((directory / MANIFEST).read_text())
    change(manifest)
    (directory / MANIFEST).write_text(json.dumps(manifest))


def test_a_saved_model_is_signed_and_loads(store: ModelStore, native_reads: list[str]) -> None:
    directory = store.directory("Exalted Orb", "1d")
    signature = json.loads((directory / SIGNATURE).read_text())
    assert signature["algorithm"] == "hmac-sha256" and len(signature["mac"]) == 64
    assert store.load("Exalted Orb", "1d").currency == "Exalted Orb"
    assert any(call.startswith("lightgbm") for call in native_reads)  # the recorder does see real loads


@pytest.mark.parametrize("name", NATIVE_FILES)
def test_a_file_changed_on_disk_with_its_manifest_hash_updated_is_refused_before_any_parser(
    store: ModelStore, native_reads: list[str], name: str
) -> None:
    directory = store.directory("Exalted Orb", "1d")
    data = bytearray((directory / name).read_bytes())
    data[len(data) // 2] ^= 0x20  # e.g. a digit of a threshold, a bracket of the JSON
    (directory / name).write_bytes(bytes(data))
    _edit_manifest(directory, lambda m: m["files"].__setitem__(name, sha256(directory / name)))
    with pytest.raises(
        ArtifactIntegrityError, match="signature does not verify: changed since it was signed"
    ):
        store.load("Exalted Orb", "1d")
    assert native_reads == []


def test_an_unsigned_model_is_refused_and_says_to_retrain(store: ModelStore, native_reads: list[str]) -> None:
    (store.directory("Exalted Orb", "1d") / SIGNATURE).unlink()
    with pytest.raises(ArtifactIntegrityError, match="unsigned.*Retrain"):
        store.load("Exalted Orb", "1d")
    assert native_reads == []


def test_a_model_signed_with_another_key_is_refused(
    store: ModelStore, tmp_path: Path, native_reads: list[str]
) -> None:
    other = ModelStore(base_dir=store.base_dir, signing_key="another-key-of-at-least-16-bytes")
    with pytest.raises(ArtifactIntegrityError, match="signed with another key"):
        other.load("Exalted Orb", "1d")
    assert native_reads == []


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda m: m["files"].pop("random_forest.txt"), "does not list random_forest.txt"),
        (lambda m: m.pop("weights"), "field 'weights' is missing"),
        (lambda m: m["files"].pop("residuals.npy"), "does not list residuals.npy"),
        (lambda m: m.__setitem__("weights", {"lightgbm": 0.5, "mystery": 0.5}), "unknown families"),
        (lambda m: m.pop("return_scale"), "no return scale"),
    ],
)
def test_a_signed_but_incomplete_manifest_is_a_clear_refusal_not_a_half_model(
    store: ModelStore, native_reads: list[str], change, problem: str
) -> None:
    """A writer holding the key (an older version, a bug) cannot produce a half-loaded model either: before,
    a manifest without the forest loaded and its predict raised KeyError; without weights, KeyError; without
    residuals.npy listed, the file on disk was read unverified."""
    directory = store.directory("Exalted Orb", "1d")
    _edit_manifest(directory, change)
    sign(directory, store.key())
    with pytest.raises(ArtifactIntegrityError, match=problem):
        store.load("Exalted Orb", "1d")
    assert native_reads == []


def test_stored_residuals_skip_a_bad_manifest_with_its_reason_and_keep_the_others(store: ModelStore) -> None:
    good = store.directory("Divine Orb", "1d")
    bad = store.directory("Exalted Orb", "1d")
    (bad / MANIFEST).write_text("{not json")
    found, skipped = store.stored_residuals([*CURRENCIES, "Chaos Shard"], "1d")
    assert [manifest["currency"] for manifest, _ in found] == ["Divine Orb"]
    assert np.array_equal(found[0][1], np.load(good / "residuals.npy"))
    assert list(skipped) == ["Exalted Orb"] and "signature does not verify" in skipped["Exalted Orb"]
    assert store.read_manifest("Chaos Shard", "1d") is None  # no model: None, not an error
    with pytest.raises(ArtifactIntegrityError, match="signature"):
        store.read_manifest("Exalted Orb", "1d")
    assert store.read_manifest("Divine Orb", "1d")["currency"] == "Divine Orb"


def test_residuals_changed_on_disk_are_skipped_not_pooled(store: ModelStore) -> None:
    directory = store.directory("Exalted Orb", "1d")
    np.save(directory / "residuals.npy", np.full(5, 1e6))
    found, skipped = store.stored_residuals(CURRENCIES, "1d")
    assert [m["currency"] for m, _ in found] == ["Divine Orb"] and "sha256 differs" in skipped["Exalted Orb"]


def test_the_default_key_file_is_outside_the_model_folder_and_owner_only(
    store: ModelStore, tmp_path: Path
) -> None:
    key_file = tmp_path / KEY_FILE_NAME
    assert key_file.is_file() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not any(p.name == KEY_FILE_NAME for p in Path(store.base_dir).rglob("*"))
    inside = ModelStore(base_dir=store.base_dir, signing_key_file=str(Path(store.base_dir) / "k.key"))
    with pytest.raises(ArtifactIntegrityError, match="inside the model folder"):
        inside.key()
    os.chmod(key_file, 0o666)
    with pytest.raises(ArtifactIntegrityError, match="writable by group or others"):
        store.key()


def test_the_key_can_come_from_an_environment_variable(models, tmp_path: Path, monkeypatch) -> None:
    import dagster as dg

    from poeconomy_assets.defs.resources import model_store_from_env

    monkeypatch.setenv("POECONOMY_MODEL_SIGNING_KEY", "k" * 40)
    store = model_store_from_env(tmp_path)
    assert isinstance(store.signing_key, dg.EnvVar)  # the UI and run config show the name, never the key
    assert store.key() == b"k" * 40  # resolved from the environment even outside a run
    resolved = ModelStore(base_dir=str(tmp_path / "models"), signing_key="k" * 40)
    resolved.save(models["Exalted Orb"])
    assert not (tmp_path / KEY_FILE_NAME).exists()  # no key file when the variable gives the key
    with pytest.raises(ArtifactIntegrityError, match="another key"):
        ModelStore(base_dir=str(tmp_path / "models")).load("Exalted Orb", "1d")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        ModelStore(base_dir=str(tmp_path / "models"), signing_key="short").key()


def test_a_pooled_model_changed_on_disk_is_refused(models, tmp_path: Path, native_reads: list[str]) -> None:
    dumps = tmp_path / "dumps"
    write_dumps(SimulationConfig(n_leagues=3, n_currencies=3, seed=4, min_days=35, max_days=40), dumps)
    pooled = train_pooled_model(build_features(read_dump_dir(dumps).prices), "1d", profile="test")
    store = ModelStore(base_dir=str(tmp_path / "models"))
    store.save_pooled(pooled)
    directory = store.pooled_directory("1d")
    oof = pl.read_parquet(directory / "oof.parquet")
    oof.head(3).write_parquet(directory / "oof.parquet")
    _edit_manifest(
        directory, lambda m: m["files"].__setitem__("oof.parquet", sha256(directory / "oof.parquet"))
    )
    native_reads.clear()
    with pytest.raises(ArtifactIntegrityError, match="signature does not verify"):
        store.load_pooled("1d")
    with pytest.raises(ArtifactIntegrityError, match="signature does not verify"):
        store.pooled_manifest("1d")
    assert native_reads == []
