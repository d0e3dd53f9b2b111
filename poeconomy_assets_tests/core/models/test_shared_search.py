"""One Optuna search shared by several processes through PostgreSQL: the same best trial as one process alone,
every planned trial evaluated once, and a participant killed mid-trial costs nothing but time."""

import multiprocessing
import os
import signal
import time
import uuid
from collections.abc import Iterator

import optuna
import polars as pl
import psycopg2
import pytest

from poeconomy_assets.core.features.build import build_features, feature_columns, target_column
from poeconomy_assets.core.ingest.dumps import read_dump_dir
from poeconomy_assets.core.models.families import LIGHTGBM
from poeconomy_assets.core.models.optuna_storage import optuna_storage
from poeconomy_assets.core.models.tuning import tune_family, walk_forward_folds
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

pytestmark = pytest.mark.postgres
TARGET = target_column("1d")
TRIALS = 7  # two rounds of 4 minus one: the cap ends the second round early


def simulated_folds(directory: str) -> tuple[list, list[str]]:
    if not any(os.scandir(directory)):
        write_dumps(
            SimulationConfig(n_leagues=4, n_currencies=3, seed=5, min_days=30, max_days=35), directory
        )
    features = build_features(read_dump_dir(directory).prices)
    rows = features.filter(pl.col(TARGET).is_not_null()).sort("date", "currency")
    return walk_forward_folds(rows, n_folds=2, gap_days=1), feature_columns(features)


def search(url: str, schema: str, study: str, dumps: str, grace: int = 20, start_at: float = 0.0) -> tuple:
    """One participant (also run in child processes): the LightGBM search on the shared study."""
    folds, names = simulated_folds(dumps)
    time.sleep(max(0.0, start_at - time.time()))
    storage = optuna_storage(url, schema, heartbeat_seconds=1, grace_seconds=grace)
    return tune_family(
        LIGHTGBM, folds, names, TARGET, n_trials=TRIALS, seed=11, storage=storage, study_name=study
    )


def slow_search(url: str, schema: str, study: str, dumps: str, grace: int) -> tuple:
    """A participant whose every fold takes 5 s longer: it is surely mid-trial when the test kills it (on an
    idle machine a fold of this small market scores in well under the 1.5 s the test waits)."""
    from poeconomy_assets.core.models import tuning

    score = tuning._fold_score

    def slow_fold_score(*args, **kwargs):
        time.sleep(5)
        return score(*args, **kwargs)

    tuning._fold_score = slow_fold_score
    return search(url, schema, study, dumps, grace)


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = tmp_path_factory.mktemp("dumps")
    simulated_folds(str(directory))
    return str(directory)


@pytest.fixture(scope="module")
def schema(postgres_url: str) -> Iterator[str]:
    name = f"optuna_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    connection.close()


@pytest.fixture(scope="module")
def alone(postgres_url: str, schema: str, dumps: str) -> tuple:
    """The search run by this process alone: what any number of participants must find."""
    return search(postgres_url, schema, "alone", dumps)


def trials_of(url: str, schema: str, study: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study, storage=optuna_storage(url, schema)).get_trials()


def test_two_processes_find_the_same_best_trial_as_one(
    postgres_url: str, schema: str, dumps: str, alone: tuple
) -> None:
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 8  # both children import, then join the new study together
    with context.Pool(2) as pool:
        shared = pool.starmap_async(search, [(postgres_url, schema, "shared", dumps, 20, start_at)] * 2).get(
            timeout=600
        )
    assert shared[0] == shared[1] == alone  # same parameters, same score, same number of trials
    assert alone[2] == TRIALS
    trials = trials_of(postgres_url, schema, "shared")
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted((t.user_attrs["round"], t.user_attrs["slot"]) for t in done) == [
        (0, 0),
        (0, 1),
        (0, 2),
        (0, 3),
        (1, 0),
        (1, 1),
        (1, 2),
    ]  # every planned trial evaluated once
    assert len({t.user_attrs["evaluated_by"] for t in done}) == 2  # by both processes
    assert done[0].params == {k: v for k, v in LIGHTGBM.defaults().items() if k in done[0].params}


def running_trials(storage: optuna.storages.BaseStorage) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="killed", storage=storage).get_trials(
        states=(optuna.trial.TrialState.RUNNING,)
    )


def test_a_participant_killed_mid_trial_changes_nothing_but_time(
    postgres_url: str, schema: str, dumps: str, alone: tuple
) -> None:
    context = multiprocessing.get_context("spawn")
    doomed = context.Process(target=slow_search, args=(postgres_url, schema, "killed", dumps, 3))
    doomed.start()
    deadline = time.time() + 60
    storage = optuna_storage(postgres_url, schema)
    while time.time() < deadline:  # wait until it is evaluating a trial
        try:
            running = running_trials(storage)
        except KeyError:
            running = []
        if running:
            break
        time.sleep(0.05)
    assert running, "the participant never started a trial"
    time.sleep(1.5)  # past its first heartbeat: a trial that never beat is not "stale" to Optuna (see below)
    assert doomed.is_alive() and running_trials(storage), "the participant finished its trial before the kill"
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.join()
    survivor = search(postgres_url, schema, "killed", dumps, grace=3)
    assert survivor == alone
    trials = trials_of(postgres_url, schema, "killed")
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert failed and all(t.user_attrs.get("round") is not None for t in failed)  # the stale one, failed...
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == failed[0].number]
    assert retried and retried[0].state == optuna.trial.TrialState.COMPLETE  # ... and evaluated again
