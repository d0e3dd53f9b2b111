import polars as pl
import pytest

from poeconomy_assets.core.dumps import read_dump_dir
from poeconomy_assets.core.families import LIGHTGBM
from poeconomy_assets.core.features import build_features, feature_columns, target_column
from poeconomy_assets.core.simulator import SimulationConfig, write_dumps
from poeconomy_assets.core.tuning import tune_family, walk_forward_folds


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


def test_spent_cpu_budget_keeps_the_defaults_trial_and_stops(folds_and_names: tuple[list, list[str]]) -> None:
    folds, names = folds_and_names
    predictions: dict = {}
    params, score, trials = tune_family(LIGHTGBM, folds, names, target_column("1d"), n_trials=50, seed=0,
                                        cpu_seconds=0.0, predictions=predictions)
    assert trials == 1  # the enqueued defaults finish, the budget ends the search
    assert params == LIGHTGBM.defaults() and score > 0
    assert set(predictions) == {fold.league for fold in folds}  # its fold predictions are handed back
