"""The numeric kernels behind the features: how rolling statistics, group sums and cross-league means are
computed fast on one long column. What each feature *means* is in build.py and profiles.py.

Every kernel works on the dense calendar (see :func:`dense_calendar`): one row per (league, currency, league
day) in group order, each group followed by ``PAD`` empty rows, so a window or shift no longer than ``PAD``
never reaches the next group and one vectorised pass serves every group at once. Rolling medians and extremes
come from bottleneck (C, O(n) per window for min/max, a double heap for the median; NaN skipped), which gives
the same values as polars' ``rolling_*(w, min_samples=1)`` at a fraction of its cost.
"""

import bottleneck as bn
import numpy as np
import polars as pl

PAD = 14  # the longest window or shift of any feature


def dense_calendar(prices: pl.DataFrame) -> pl.DataFrame:
    """One row per currency and every league day from its first to last observation (nulls in holes),
    followed by PAD empty rows. ``prices`` has enum (or categorical) league and currency. Grouped by (league,
    currency) in code order and sorted by league_day within a group. This is the hot path at
    1M rows, and it sorts nothing: each group's first and last day come from np.minimum/maximum.at over a
    small (league, currency) table, and each price is written straight to its computed row (no join).

    Columns: league, currency, league_day, price_chaos, date, ``_pad`` (a padding row), ``_start`` (a
    group's first row) and ``_source`` (the row of ``prices`` placed there; null in holes and padding).
    The dates count from each league's launch, so ``prices`` must hold one launch date (date - league_day)
    per league."""
    league = dense_codes(prices["league"].to_physical().to_numpy())
    currency = dense_codes(prices["currency"].to_physical().to_numpy())
    day = prices["league_day"].to_numpy().astype(np.int64, copy=False)
    if day.size and day.min() < 0:
        raise ValueError("league_day must be >= 0")
    group = league * (int(currency.max()) + 1) + currency  # ascending in (league, currency) code order
    first = np.full(int(group.max()) + 1, np.iinfo(np.int64).max)
    last = np.full(first.size, -1)
    np.minimum.at(first, group, day)
    np.maximum.at(last, group, day)
    groups = np.flatnonzero(last >= 0)  # the (league, currency) pairs that hold prices, in order
    first, last = first[groups], last[groups]
    length = last - first + 1 + PAD
    offset = np.concatenate([[0], np.cumsum(length)[:-1]])
    group_index = np.zeros(int(group.max()) + 1, dtype=np.int64)
    group_index[groups] = np.arange(groups.size)
    group = group_index[group]
    row = offset[group] + day - first[group]  # each price's row in the dense calendar
    n_rows = int(length.sum())
    taken = np.zeros(n_rows, dtype=bool)
    taken[row] = True
    if np.count_nonzero(taken) != row.size:
        raise ValueError("prices hold more than one row for some (league, currency, league_day)")
    row_group = np.repeat(np.arange(groups.size), length)
    position = np.arange(n_rows) - offset[row_group]
    price = np.full(n_rows, np.nan)
    price[row] = prices["price_chaos"].to_numpy()
    source = np.full(n_rows, -1)
    source[row] = np.arange(row.size)
    # Launch date of each league: its earliest (date - league_day).
    epoch_day = prices["date"].cast(pl.Int32).to_numpy().astype(np.int64) - day
    launch = np.full(int(league.max()) + 1, np.iinfo(np.int64).max)
    np.minimum.at(launch, league, epoch_day)
    if (epoch_day != launch[league]).any():
        raise ValueError(
            "league_day must count the days since the league's launch: date - league_day differs "
            "within a league"
        )
    league_day = first[row_group] + position
    heads = np.empty(groups.size, dtype=np.int64)
    heads[group] = np.arange(group.size)  # one input row of each group (any: they share league and currency)
    group_league = league[heads]
    return pl.DataFrame(
        [
            prices["league"].gather(heads).gather(row_group),
            prices["currency"].gather(heads).gather(row_group),
            pl.Series("league_day", league_day, dtype=pl.Int32),
            pl.Series("price_chaos", price).fill_nan(None),
            pl.Series("_pad", position > (last - first)[row_group]),
            pl.Series("_start", position == 0),
            pl.Series("date", launch[group_league][row_group] + league_day, dtype=pl.Int32).cast(pl.Date),
            pl.Series("_source", source).set(pl.Series(source < 0), None),
        ]
    )


def group_start_rows(frame: pl.DataFrame) -> np.ndarray:
    """For every row of the dense calendar, the row where its (league, currency) group starts."""
    start = frame["_start"].to_numpy()
    return np.maximum.accumulate(np.where(start, np.arange(start.size), 0))


def within_group_cum_sum(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each (league, currency) group: one global cumsum minus its value
    just before the group's first row (cheaper than a window per group)."""
    total = np.cumsum(values)
    return total - (total - values)[group_start]


def rolling_medians(values: np.ndarray, windows: tuple[int, ...]) -> list[np.ndarray]:
    """Per window w, the median of the present (non-NaN) values among each row and its w - 1 predecessors
    (polars' ``rolling_median(w, min_samples=1)``); NaN where the window holds none."""
    return [bn.move_median(values, w, min_count=1) for w in windows]


def rolling_extremes(
    values: np.ndarray, windows: tuple[int, ...]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(minimums, maximums): per window w, the extreme of the present values among each row and its w - 1
    predecessors (``rolling_min/max(w, min_samples=1)``); NaN where the window holds none."""
    return (
        [bn.move_min(values, w, min_count=1) for w in windows],
        [bn.move_max(values, w, min_count=1) for w in windows],
    )


def mean_by_key(key: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each row, the mean of the present (non-NaN) ``values`` of every row with the same integer ``key``
    (NaN where the key has none). np.bincount over the key: a window over two key columns cost polars a
    group-by per column."""
    present = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):  # a key with no value at all: NaN
        mean = np.bincount(key, np.where(present, values, 0.0)) / np.bincount(key, present)
    return mean[key]


def dense_codes(codes: np.ndarray) -> np.ndarray:
    """0..k-1 in the order of the distinct ``codes`` (what np.unique's inverse gives, without sorting
    every row: categorical codes are small integers, so a lookup table does it in one pass)."""
    seen = np.zeros(int(codes.max()) + 1, dtype=bool)
    seen[codes] = True
    return (np.cumsum(seen) - 1)[codes].astype(np.int64)


def earlier_league_means(values: np.ndarray, exists: np.ndarray, recent: int) -> dict[str, np.ndarray]:
    """For a (league, ...) array with NaN where a league has no value: at each league, the mean over
    every earlier league with a value (``all``) and over the last ``recent`` earlier leagues in which the
    cell exists (``recent``; NaN values among them are skipped). Only leagues *before* each position are read.

    Both walk the (few) leagues in Python, one contiguous layer at a time: numpy's cumsum along the
    first axis of a 3-D array strides through memory and was the slowest step of the profiles."""
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0)
    weight = present.astype(np.float64)  # counts as floats: the divisions below need no conversion
    total, count = np.empty_like(filled), np.empty_like(filled)
    total[0], count[0] = filled[0], weight[0]
    for i in range(1, values.shape[0]):  # inclusive running sums (as np.cumsum adds them) ...
        np.add(total[i - 1], filled[i], out=total[i])
        np.add(count[i - 1], weight[i], out=count[i])
    total -= filled  # ... minus the league itself: only earlier leagues
    count -= weight
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = {"all": np.divide(total, count, out=total)}
    # The last `recent` values where the cell exists, newest first, as (value or 0, present) slots:
    # their mean is np.nanmean's (same additions in the same order), updated in place league by league.
    last_value = np.zeros((recent, *values.shape[1:]))
    last_count = np.zeros((recent, *values.shape[1:]))
    recent_mean = np.empty(values.shape)
    for i in range(values.shape[0]):
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(last_value.sum(axis=0), last_count.sum(axis=0), out=recent_mean[i])
        here = exists[i]
        for slot in range(recent - 1, 0, -1):
            np.copyto(last_value[slot], last_value[slot - 1], where=here)
            np.copyto(last_count[slot], last_count[slot - 1], where=here)
        np.copyto(last_value[0], filled[i], where=here)
        np.copyto(last_count[0], weight[i], where=here)
    stats["recent"] = recent_mean
    return stats
