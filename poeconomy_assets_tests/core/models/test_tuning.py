import polars as pl
import pytest

from poeconomy_assets.core.features.build import build_features, feature_columns, target_column
from poeconomy_assets.core.ingest.dumps import read_dump_dir
from poeconomy_assets.core.models.families import FAMILIES, LIGHTGBM
from poeconomy_assets.core.models.tuning import tune_family, walk_forward_folds
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps


@pytest.fixture(scope="module")
def folds_and_names(tmp_path_factory: pytest.TempPathFactory) -> tuple[list, list[str]]:
    directory = tmp_path_factory.mktemp("dumps")
    write_dumps(SimulationConfig(n_leagues=4, n_currencies=3, seed=5, min_days=30, max_days=35), directory)
    features = build_features(read_dump_dir(directory).prices)
    rows = features.filter(pl.col(target_column("1d")).is_not_null()).sort("date", "currency")
    return walk_forward_folds(rows, n_folds=2, gap_days=1), feature_columns(features)


def test_folds_validate_on_later_leagues_and_keep_the_gap(folds_and_names: tuple[list, list[str]]) -> None:
    folds, _ = folds_and_names
    assert len(folds) == 2
    for fold in folds:
        assert fold.train["date"].max() < fold.validation["date"].min()
        assert fold.league not in set(fold.train["league"])


def test_trial_count_cap_without_budget(folds_and_names: tuple[list, list[str]]) -> None:
    folds, names = folds_and_names
    _, _, trials = tune_family(LIGHTGBM, folds, names, target_column("1d"), n_trials=4, seed=0)
    assert trials == 4


def test_spent_budget_keeps_the_defaults_trial_and_stops(folds_and_names: tuple[list, list[str]]) -> None:
    folds, names = folds_and_names
    predictions: dict = {}
    params, score, trials = tune_family(
        LIGHTGBM,
        folds,
        names,
        target_column("1d"),
        n_trials=50,
        seed=0,
        budget_seconds=0.0,
        predictions=predictions,
    )
    assert trials == 1  # the enqueued defaults finish, the budget ends the search
    assert params == LIGHTGBM.defaults() and score > 0
    assert set(predictions) == {fold.league for fold in folds}  # its fold predictions are handed back


def test_a_budgeted_search_is_the_same_on_every_run(folds_and_names: tuple[list, list[str]]) -> None:
    folds, names = folds_and_names
    rows = folds[-1].train.height
    budget = 3.5 * LIGHTGBM.cost(LIGHTGBM.defaults(), rows) * len(folds)  # room for a few trials, not 50
    first, second = (
        tune_family(LIGHTGBM, folds, names, target_column("1d"), n_trials=50, seed=3, budget_seconds=budget)
        for _ in range(2)
    )
    assert 1 < first[2] < 50  # the budget, not the trial count, ended it
    assert first == second  # estimated cost, not a clock: same trials, same parameters, same score


def test_cost_models_grow_with_rows_and_trees() -> None:
    for family in FAMILIES.values():
        params = family.defaults()
        assert 0 < family.cost(params, 1_000) < family.cost(params, 20_000)
        assert family.cost(params, 5_000) < family.cost(
            {**params, "n_estimators": 2 * params["n_estimators"]}, 5_000
        )
