import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.features.kernels import (
    earlier_league_means,
    mean_by_key,
    rolling_extremes,
    rolling_medians,
    within_group_cum_sum,
)


@pytest.fixture(scope="module")
def values() -> np.ndarray:
    rng = np.random.default_rng(5)
    values = rng.normal(size=5_000)
    values[rng.random(values.size) < 0.2] = np.nan  # holes, some runs longer than a window
    values[1000:1030] = np.nan
    values[2000:2010] = 1.0  # ties
    return values


WINDOWS = (1, 2, 3, 4, 5, 7, 8, 14, 15, 16)


def test_rolling_medians_match_polars_with_missing_days(values: np.ndarray) -> None:
    """Every row, present or not, gets the median of the present days of its window, as polars'
    rolling_median(min_samples=1) does; null where the window holds none. (Equal up to the last bit: an even
    window's median is (a + b) / 2 here, a + (b - a) / 2 in polars.)"""
    series = pl.Series(values, nan_to_null=True)
    for w, median in zip(WINDOWS, rolling_medians(values, WINDOWS)):
        expected = series.rolling_median(w, min_samples=1).to_numpy()
        np.testing.assert_array_equal(np.isnan(median), np.isnan(expected))
        np.testing.assert_allclose(median, expected, rtol=0, atol=1e-12)


def test_rolling_extremes_match_polars_with_missing_days(values: np.ndarray) -> None:
    series = pl.Series(values, nan_to_null=True)
    minimums, maximums = rolling_extremes(values, WINDOWS)
    for w, low, high in zip(WINDOWS, minimums, maximums):
        np.testing.assert_array_equal(low, series.rolling_min(w, min_samples=1).to_numpy())
        np.testing.assert_array_equal(high, series.rolling_max(w, min_samples=1).to_numpy())


def test_within_group_cum_sum_restarts_at_each_group() -> None:
    values = np.array([1, 2, 3, 10, 20, 5])
    group_start = np.array([0, 0, 0, 3, 3, 5])
    np.testing.assert_array_equal(within_group_cum_sum(values, group_start), [1, 3, 6, 10, 30, 5])


def test_mean_by_key_skips_missing_values() -> None:
    key = np.array([0, 1, 0, 1, 2])
    values = np.array([1.0, np.nan, 3.0, 4.0, np.nan])
    np.testing.assert_array_equal(mean_by_key(key, values), [2.0, 4.0, 2.0, 4.0, np.nan])


def test_earlier_league_means_read_only_earlier_leagues() -> None:
    """League 3's ``all`` mean is over leagues 0-2; ``recent`` over the last two where the cell exists."""
    values = np.array([[1.0], [np.nan], [5.0], [7.0], [9.0]])
    exists = np.array([[True], [False], [True], [True], [True]])
    stats = earlier_league_means(values, exists, recent=2)
    np.testing.assert_array_equal(stats["all"][:, 0], [np.nan, 1.0, 1.0, 3.0, 13 / 3])
    np.testing.assert_array_equal(stats["recent"][:, 0], [np.nan, 1.0, 1.0, 3.0, 6.0])
