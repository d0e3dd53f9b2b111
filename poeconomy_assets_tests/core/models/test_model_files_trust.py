"""No code runs from a model folder; symlinks and non-JSON manifests are refused; a killed save never destroys
the previous model, and its leftovers are cleaned up by the next save."""

import dataclasses
import json
import multiprocessing
import os
import random
import re
import signal
import time
from pathlib import Path

import polars as pl
import pytest

from poeconomy_assets.core.features.build import build_features
from poeconomy_assets.core.ingest.dumps import read_dump_dir
from poeconomy_assets.core.models.artifacts import MANIFEST, ArtifactIntegrityError, sha256, sign
from poeconomy_assets.core.models.ensemble import TrainedModel, train_currency_model
from poeconomy_assets.resources.model_store import ModelStore
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

PACKAGE = Path(__file__).resolve().parents[3] / "poeconomy_assets"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainedModel, pl.DataFrame]:
    dumps = tmp_path_factory.mktemp("dumps")
    write_dumps(SimulationConfig(n_leagues=3, n_currencies=3, seed=4, min_days=35, max_days=40), dumps)
    features = build_features(read_dump_dir(dumps).prices)
    return train_currency_model(features, "Exalted Orb", "1d", profile="test"), features


@pytest.fixture
def stored(trained, tmp_path: Path) -> tuple[ModelStore, Path]:
    store = ModelStore(base_dir=str(tmp_path / "models"))
    store.save(trained[0])
    return store, store.directory("Exalted Orb", "1d")


def _relist(
    directory: Path, drop: str | None = None, add: str | None = None, key: bytes | None = None
) -> None:
    """Rewrite the manifest as an attacker with write access to the folder would: hashes that match. With
    ``key``, re-sign it too: an attacker who also stole the signing key (the pickle must still never run)."""
    manifest = json.loads((directory / MANIFEST).read_text())
    if drop:
        manifest["files"].pop(drop, None)
    if add:
        manifest["files"][add] = sha256(directory / add)
    (directory / MANIFEST).write_text(json.dumps(manifest))
    if key:
        sign(directory, key)


def test_a_pickle_with_its_own_hash_in_the_manifest_never_runs(stored, tmp_path: Path) -> None:
    import joblib

    store, directory = stored
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    joblib.dump(Payload(), directory / "random_forest.joblib")
    for name in [
        p.name
        for p in directory.iterdir()
        if p.name.startswith("random_forest.") and not p.name.endswith(".joblib")
    ]:
        (directory / name).unlink()
        _relist(directory, drop=name)
    _relist(directory, add="random_forest.joblib")
    with pytest.raises(ArtifactIntegrityError, match="signature does not verify"):  # without the key
        store.load("Exalted Orb", "1d")
    _relist(directory, key=store.key())  # with the key: still refused, by name
    with pytest.raises(ArtifactIntegrityError, match="random_forest.joblib"):
        store.load("Exalted Orb", "1d")
    assert not marker.exists()


def test_no_loader_in_the_package_can_unpickle() -> None:
    pattern = re.compile(
        r"joblib\.load|pickle\.loads?\(|allow_pickle\s*=\s*True|import joblib|import pickle|"
        r"import cloudpickle|dill\.load"
    )
    offenders = [
        f"{p.relative_to(PACKAGE)}: {m.group(0)}"
        for p in PACKAGE.rglob("*.py")
        for m in pattern.finditer(p.read_text())
    ]
    assert offenders == []


def test_a_random_forest_file_is_plain_text(stored) -> None:
    _, directory = stored
    forest = [p for p in directory.iterdir() if p.name.startswith("random_forest.")]
    assert [p.suffix for p in forest] == [".txt"]
    assert forest[0].read_text().startswith("tree")


@pytest.mark.parametrize("target", [MANIFEST, "lightgbm.txt", "random_forest.txt"])
def test_a_symlinked_file_is_refused(stored, tmp_path: Path, target: str) -> None:
    store, directory = stored
    elsewhere = tmp_path / f"elsewhere-{target}"
    elsewhere.write_bytes((directory / target).read_bytes())  # same bytes: the hash would match
    (directory / target).unlink()
    (directory / target).symlink_to(elsewhere)
    with pytest.raises(ArtifactIntegrityError, match="symlink"):
        store.load("Exalted Orb", "1d")


def test_a_symlinked_model_folder_is_refused(stored, tmp_path: Path) -> None:
    store, directory = stored
    real = tmp_path / "real-folder"
    directory.rename(real)
    directory.symlink_to(real, target_is_directory=True)
    with pytest.raises(ArtifactIntegrityError, match="symlink"):
        store.load("Exalted Orb", "1d")


@pytest.mark.parametrize(
    "text, problem",
    [("{not json", "not valid JSON"), ("[1, 2]", "not a JSON object"), ("\x00\x01binary", "not valid JSON")],
)
def test_a_manifest_that_is_not_a_json_object_is_refused(stored, text: str, problem: str) -> None:
    store, directory = stored
    (directory / MANIFEST).write_text(text)
    with pytest.raises(ArtifactIntegrityError, match="signature does not verify"):
        store.load("Exalted Orb", "1d")
    sign(directory, store.key())  # signed garbage (a bug in a writer holding the key): refused as what it is
    with pytest.raises(ArtifactIntegrityError, match=problem):
        store.load("Exalted Orb", "1d")


def _save_forever(store: ModelStore, models: list[TrainedModel]) -> None:
    i = 0
    while True:
        store.save(models[i % 2])
        i += 1


def test_a_save_killed_at_any_moment_leaves_a_loadable_model(trained, tmp_path: Path) -> None:
    store = ModelStore(base_dir=str(tmp_path / "models"))
    model = trained[0]
    tagged = [dataclasses.replace(model, info={**model.info, "tag": tag}) for tag in ("a", "b")]
    store.save(tagged[0])
    started = time.perf_counter()
    store.save(tagged[1])
    save_seconds = time.perf_counter() - started
    rng = random.Random(7)
    context = multiprocessing.get_context("fork")
    seen = set()
    for _ in range(15):
        child = context.Process(target=_save_forever, args=(store, tagged))
        child.start()
        time.sleep(rng.uniform(0.0, 3 * save_seconds))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        loaded = store.load("Exalted Orb", "1d")  # never refused, never half-written
        seen.add(loaded.info["tag"])
    assert seen <= {"a", "b"}
    folder = store.directory("Exalted Orb", "1d")
    store.save(tagged[0])  # the next save removes what killed saves left behind
    assert sorted(p.name for p in folder.parent.iterdir()) == ["1d"]
    assert store.load("Exalted Orb", "1d").info["tag"] == "a"
