import math

import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.metrics import relative_mae, score_points, scorecard


def test_scores_by_hand() -> None:
    price = np.array([10.0, 10.0, 10.0, 10.0])
    actual = np.array([11.0, 9.0, 10.05, 12.0])  # the third point moves 0.5%: not counted for direction
    forecast = np.array([10.5, 9.5, 9.0, 9.0])
    s = score_points(price, actual, forecast)
    assert s["mae"] == pytest.approx((0.5 + 0.5 + 1.05 + 3.0) / 4)
    assert s["mae_persistence"] == pytest.approx((1.0 + 1.0 + 0.05 + 2.0) / 4)
    assert s["rel_mae"] == pytest.approx(5.05 / 4.05)  # relative MAE: model MAE over persistence MAE
    assert s["mape"] == pytest.approx(np.mean([0.5 / 11, 0.5 / 9, 1.05 / 10.05, 3.0 / 12]))
    assert s["direction_accuracy"] == pytest.approx(2 / 3)  # right, right, (skipped), wrong
    assert s["n"] == 4


def test_persistence_scores_one_and_flat_forecast_counts_as_wrong_direction() -> None:
    price = np.array([10.0, 20.0])
    actual = np.array([12.0, 18.0])
    s = score_points(price, actual, price.copy())
    assert s["rel_mae"] == pytest.approx(1.0)
    assert s["direction_accuracy"] == 0.0  # "no move" is not a direction


def test_no_moves_means_no_direction_score() -> None:
    s = score_points(np.array([10.0]), np.array([10.0]), np.array([10.0]))
    assert math.isnan(s["direction_accuracy"]) and math.isnan(s["rel_mae"])


def test_scorecard_averages_relative_mae_over_currencies_not_points() -> None:
    points = pl.DataFrame(
        {
            "currency": ["a", "a", "b"],
            "price_chaos": [1.0, 1.0, 100.0],
            "actual_chaos": [2.0, 2.0, 110.0],
            "forecast_chaos": [2.0, 2.0, 100.0],  # a: perfect (relative MAE 0), b: persistence (1)
        }
    )
    card = scorecard(points)
    assert card["rel_mae"] == pytest.approx(0.5)
    assert card["per_currency"]["a"] == {"rel_mae": 0.0, "mape": 0.0, "direction_accuracy": 1.0, "n": 2}
    assert card["per_currency"]["b"]["rel_mae"] == pytest.approx(1.0)
    assert card["n"] == 3 and card["mae"] == pytest.approx(10 / 3)


def test_relative_mae_by_group_counts_each_group_once() -> None:
    """Group 0 (three points) scores 0.5, group 1 (one point) 2.0, group 2 never moved (left out): mean 1.25,
    where the ratio over all points is 8 / 8."""
    price = np.array([10.0, 10.0, 10.0, 10.0, 5.0])
    actual = np.array([12.0, 8.0, 12.0, 12.0, 5.0])
    forecast = np.array([11.0, 9.0, 11.0, 16.0, 6.0])
    groups = np.array([0, 0, 0, 1, 2])
    assert relative_mae(price, actual, forecast, groups) == pytest.approx(1.25)
    assert relative_mae(price, actual, forecast) == pytest.approx(8 / 8)
    assert math.isnan(relative_mae(price[4:], actual[4:], forecast[4:]))


def test_files_written_before_the_rename_read_under_the_current_names() -> None:
    from poeconomy_assets.core.metrics import with_current_names

    old = {"mase": 0.9, "horizons": {"7d": {"mase": 0.8, "worst_mase": 1.2, "n": 3}}}
    assert with_current_names(old) == {
        "rel_mae": 0.9,
        "horizons": {"7d": {"rel_mae": 0.8, "worst_rel_mae": 1.2, "n": 3}},
    }
    # a file that has both keeps the current one
    assert with_current_names({"mase": 1.5, "rel_mae": 0.7}) == {"rel_mae": 0.7}
