"""League-aware features and 1d/3d/7d targets from daily prices (polars, no look-ahead).

Every feature at (league, currency, date t) uses prices up to t of that league and, for the
cross-league profiles, only leagues that ended before this one started. Windows run over the real
calendar: a missing day is a null, never the previous row. Prices enter as logs, so every
"normalised by the current price" statistic is a log ratio (scale-free across currencies).
"""

from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from poeconomy_assets.core.schemas import HORIZON_DAYS

KEYS = ["league", "currency", "date", "league_day", "price_chaos"]
STAT_WINDOWS = (3, 5, 7, 14)  # rolling mean/std/min/max/median (a 1-day window is just ret_1d)
MOMENTUM_WINDOWS = (3, 5, 7)
VOL_WINDOWS = (7, 14)
EARLY_DAYS, MID_DAYS = 7, 28  # league phases: the launch rush, the settling month, the long tail
RECENT_LEAGUES = 3  # "recent" cross-league profiles average the last three earlier leagues
PROFILE_SMOOTH_DAYS = 5  # one league's day-to-day noise is large: profiles average ±2 league days
BY = ["league", "currency"]
PAD = 14  # the longest window or shift; see _dense_calendar
MEDIAN_CHUNK_ROWS = 16_384  # rows per block of the median networks: every wire of a block stays in cache


def target_column(horizon: str) -> str:
    return f"target_logret_{horizon}"


def feature_columns(features: pl.DataFrame) -> list[str]:
    """The model inputs: every column except keys, raw price and targets."""
    return [c for c in features.columns if c not in KEYS and not c.startswith("target_")]


def build_features(prices: pl.DataFrame) -> pl.DataFrame:
    """Features for every (league, currency, date) in ``prices`` (DailyPrices rows of all leagues).

    Output columns: the keys (league, currency, date, league_day, price_chaos), the numeric
    features, then per horizon ``target_logret_*`` (log(price(t+h) / price(t)), null where t+h has
    no price in the same league), ``target_price_*``, ``target_change_*`` and ``target_up_*``.
    """
    if prices.is_empty():
        raise ValueError("build_features needs at least one price row")
    price = prices["price_chaos"]
    if ((price <= 0) | price.is_infinite()).any():  # the numpy windows read a NaN log price as a missing day
        raise ValueError("build_features needs finite positive prices (DailyPrices.price_chaos > 0)")
    # Categorical keys: every join, sort and window below compares integers instead of strings.
    keys = prices.select(pl.col("league", "currency").cast(pl.Categorical), "date", "league_day", "price_chaos")
    dense = _dense_calendar(keys)
    features = dense.with_columns(pl.col("price_chaos").log().alias("log_price"))
    # The inputs of the cross-league profiles first (they read no rolling window), so the numpy steps
    # (profiles; rolling medians and extremes) run on worker threads beside the polars ones: both
    # release the GIL, so the two cores stay busy.
    features = features.with_columns(_since_launch(), *_target_log_returns())  # (targets: ordered at the end)
    features = features.with_columns(*_targets(), *_smoothed_profile_inputs())
    with ThreadPoolExecutor(max_workers=2) as workers:
        # Every filter or join of the wide frame copies each of its columns: profiles are computed on a
        # narrow frame, and only the output columns (no "_" helpers) of the wide one are filtered, once.
        profiles = workers.submit(_profiles, features.select(
            "league", "currency", "date", "league_day", "price_chaos",
            pl.col("_since_launch").alias("since_launch"), "log_price", pl.col("^_smooth_.*$"), "_pad",
        ).filter(~pl.col("_pad")))
        windows = workers.submit(_numpy_windows, features["log_price"].to_numpy())
        group_start = _group_start_rows(features)
        features = features.with_columns(*_daily_returns(features, group_start))
        features = features.with_columns(*_return_volatility())
        features = features.with_columns(*windows.result())
        features = features.with_columns(*_own_history(), *_time_features(features, group_start))
        # Padding rows hold nulls for price, returns and targets, but a window that ends on one can still
        # see the group's last days: null what a later window reads (volatility) before reading it.
        features = _masked(features, [f"vol_{w}d" for w in VOL_WINDOWS])
        # Market means skip nulls, and padding rows hold null returns: they can stay in (no copy to drop).
        features = features.with_columns(*_volatility_of_volatility(), *_market_features(features))
        priced = ~features["_pad"] & features["price_chaos"].is_not_null()
        features = features.select(c for c in features.columns if not c.startswith("_")).filter(priced)
        features = features.with_columns(pl.col("league", "currency").cast(pl.String),
                                         pl.col("league_day").cast(pl.Int64))
        features = pl.concat([features, profiles.result()], how="horizontal")
    targets = [c for h in HORIZON_DAYS for c in _target_names(h)]
    ordered = KEYS + [c for c in features.columns if c not in KEYS and c not in targets] + targets
    return features.select(*ordered).with_columns(pl.col("league_index").cast(pl.Int64))


def _numpy_windows(log_price: np.ndarray) -> list[pl.Series]:
    """The rolling windows computed with numpy rather than polars (see each)."""
    return [*_rolling_medians(log_price, STAT_WINDOWS), *_rolling_extremes(log_price, STAT_WINDOWS)]


def _masked(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Null ``columns`` on padding rows, so a later window cannot carry one group into the next."""
    return frame.with_columns(pl.when(~pl.col("_pad")).then(pl.col(columns)).name.keep())


def _target_names(horizon: str) -> list[str]:
    return [target_column(horizon), f"target_price_{horizon}", f"target_change_{horizon}", f"target_up_{horizon}"]


def _dense_calendar(prices: pl.DataFrame) -> pl.DataFrame:
    """One row per currency and every league day from its first to last observation (nulls in holes),
    followed by PAD empty rows. Grouped by (league, currency) in categorical code order and sorted by
    league_day within a group, so windows and shifts can run over the whole column at once: the padding
    (never longer than a window) keeps them inside a group. This is the hot path at 1M rows, and it
    sorts nothing: each group's first and last day come from np.minimum/maximum.at over a small
    (league, currency) table, and each price is written straight to its computed row (no join)."""
    league = _dense_codes(prices["league"].to_physical().to_numpy())
    currency = _dense_codes(prices["currency"].to_physical().to_numpy())
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
    # Launch date of each league: its earliest (date - league_day).
    epoch_day = prices["date"].cast(pl.Int32).to_numpy().astype(np.int64) - day
    launch = np.full(int(league.max()) + 1, np.iinfo(np.int64).max)
    np.minimum.at(launch, league, epoch_day)
    league_day = first[row_group] + position
    heads = np.empty(groups.size, dtype=np.int64)
    heads[group] = np.arange(group.size)  # one input row of each group (any: they share league and currency)
    group_league = league[heads]
    return pl.DataFrame([
        prices["league"].gather(heads).gather(row_group),
        prices["currency"].gather(heads).gather(row_group),
        pl.Series("league_day", league_day, dtype=pl.Int32),
        pl.Series("price_chaos", price).fill_nan(None),
        pl.Series("_pad", position > (last - first)[row_group]),
        pl.Series("_start", position == 0),
        pl.Series("date", launch[group_league][row_group] + league_day, dtype=pl.Int32).cast(pl.Date),
    ])


def _group_start_rows(frame: pl.DataFrame) -> np.ndarray:
    """For every row of the dense calendar, the row where its (league, currency) group starts."""
    start = frame["_start"].to_numpy()
    return np.maximum.accumulate(np.where(start, np.arange(start.size), 0))


def _within_group_cum_sum(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each (league, currency) group: one global cumsum minus its value
    just before the group's first row (cheaper than a window per group)."""
    total = np.cumsum(values)
    return total - (total - values)[group_start]


def _daily_returns(frame: pl.DataFrame, group_start: np.ndarray) -> list[pl.Series]:
    """The 1-day log return and the mean absolute daily move so far in the group (read by many windows).
    numpy: polars evaluated the return three times and each running sum twice (no CSE when eager)."""
    log_price = frame["log_price"].to_numpy()
    ret1 = np.concatenate([[np.nan], log_price[1:] - log_price[:-1]])  # padding rows keep groups apart
    observed = ~np.isnan(ret1)
    with np.errstate(invalid="ignore", divide="ignore"):  # no move observed yet: NaN, as polars gives
        mean_abs_move = (_within_group_cum_sum(np.where(observed, np.abs(ret1), 0.0), group_start)
                         / _within_group_cum_sum(observed.astype(np.int64), group_start))
    return [pl.Series("ret_1d", ret1, nan_to_null=True), pl.Series("_mean_abs_move", mean_abs_move)]


def _since_launch() -> pl.Expr:
    """The log price relative to the group's first day (the path since launch)."""
    logp = pl.col("log_price")
    return (logp - pl.when(pl.col("_start")).then(logp).forward_fill()).alias("_since_launch")


def _own_history() -> list[pl.Expr]:
    """Rolling statistics, momentum and volatility of this currency's own log price (past days only).
    Windows run over the padded, sorted column (see _dense_calendar), never across groups."""
    logp = pl.col("log_price")
    exprs = [pl.col("_since_launch").alias("since_launch")]  # computed early, for the profiles
    for w in STAT_WINDOWS:
        exprs += [
            (logp.rolling_mean(w, min_samples=1) - logp).alias(f"mean_gap_{w}d"),
            logp.rolling_std(w, min_samples=2).alias(f"std_{w}d"),
            (pl.col(f"_min_{w}d") - logp).alias(f"min_gap_{w}d"),  # see _rolling_extremes
            (pl.col(f"_max_{w}d") - logp).alias(f"max_gap_{w}d"),
            (pl.col(f"_median_{w}d") - logp).alias(f"median_gap_{w}d"),  # see _rolling_medians
        ]
    for w in MOMENTUM_WINDOWS:
        change = logp - logp.shift(w)
        vol = pl.col(f"_momentum_vol_{w}d")  # see _return_volatility
        exprs += [
            change.alias(f"ret_{w}d"),
            vol.alias(f"momentum_vol_{w}d"),
            # Trend strength: the move in units of the noise over the same window (a t-statistic).
            (change / (vol * w**0.5 + 1e-4)).alias(f"trend_{w}d"),
        ]
    exprs.append((logp - logp.shift(14)).alias("ret_14d"))
    mean_abs_move = pl.col("_mean_abs_move")
    for w in VOL_WINDOWS:
        realised = pl.col(f"_vol_{w}d")
        exprs += [
            realised.alias(f"vol_{w}d"),
            # Normalised: today's realised volatility against the mean absolute daily move so far.
            (realised / (mean_abs_move + 1e-4)).alias(f"vol_ratio_{w}d"),
        ]
    return exprs


def _rolling_medians(log_price: np.ndarray, windows: tuple[int, ...]) -> list[pl.Series]:
    """``_median_{w}d``: the rolling median of the padded log price column over each window, skipping
    missing days (what ``rolling_median(w, min_samples=1)`` gives, at about a quarter of its cost: polars
    re-sorts every window, and its null-aware path is slower still).

    A window with every day present is a fixed-size selection network of min/max over shifted copies
    of the column (vectorised, in cache-sized blocks). The few windows with a missing day (a group's
    first days, holes) are sorted one by one, missing days last, and their median read at the count of
    present days. Rows without a price get NaN (their median gap is null anyway)."""
    columns = []
    for w in windows:
        padded = np.concatenate([np.full(w - 1, np.nan), log_price])  # row i's window: padded[i:i + w]
        median = _complete_window_medians(padded, w)
        incomplete = np.flatnonzero(np.isnan(median) & ~np.isnan(log_price))  # a missing day in the window
        _fill_incomplete_window_medians(padded, w, median, incomplete)
        columns.append(pl.Series(f"_median_{w}d", median, nan_to_null=True))
    return columns


def _fill_incomplete_window_medians(padded: np.ndarray, w: int, median: np.ndarray, rows: np.ndarray) -> None:
    """``median[rows]``: the median of the present values of each window padded[row:row + w] (at least one).
    Each window is sorted (NaN last) and read at its count of present values, in cache-sized blocks."""
    for start in range(0, rows.size, MEDIAN_CHUNK_ROWS):
        block = rows[start:start + MEDIAN_CHUNK_ROWS]
        windows = sliding_window_view(padded, w)[block]  # a copy: sorted in place
        windows.sort(axis=1)
        present = w - np.isnan(windows).sum(axis=1)
        flat, first = windows.reshape(-1), np.arange(block.size) * w
        median[block] = (flat[first + (present - 1) // 2] + flat[first + present // 2]) * 0.5


def _complete_window_medians(padded: np.ndarray, w: int) -> np.ndarray:
    """Median of every w-row window of ``padded`` (row i: padded[i:i + w]); NaN where a window holds a NaN
    (min/max propagate it)."""
    n = padded.size - w + 1
    low, high = (w - 1) // 2, w // 2  # the middle ranks (equal for an odd window)
    median = np.empty(n)
    for start in range(0, n, MEDIAN_CHUNK_ROWS):
        stop = min(start + MEDIAN_CHUNK_ROWS, n)
        wires = [padded[start + j:stop + j] for j in range(w)]
        for a, b, keep_min, keep_max in _median_network(w):
            lower, upper = wires[a], wires[b]
            if keep_min:
                wires[a] = np.minimum(lower, upper)
            if keep_max:
                wires[b] = np.maximum(lower, upper)
        block = median[start:stop]
        np.add(wires[low], wires[high], out=block)
        block *= 0.5
    return median


@cache
def _median_network(w: int) -> list[tuple[int, int, bool, bool]]:
    """Batcher's odd-even merge sort network on w wires, pruned to the comparators that reach the two
    middle ranks: (a, b, keep_min, keep_max) puts min(a, b) on wire a and max(a, b) on wire b, and
    only the outputs that a later comparator or the median reads are computed."""
    pairs, p = [], 1
    while p < w:
        k = p
        while k >= 1:
            for j in range(k % p, w - k, 2 * k):
                for i in range(min(k, w - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    needed, network = {(w - 1) // 2, w // 2}, []
    for a, b in reversed(pairs):
        if a in needed or b in needed:
            network.append((a, b, a in needed, b in needed))
            needed |= {a, b}
    return network[::-1]


def _return_volatility() -> list[pl.Expr]:
    """Rolling std of the daily return, each computed once: the momentum and volatility features read
    it twice (raw and inside a ratio), and an eager with_columns evaluates a repeated window twice."""
    ret1 = pl.col("ret_1d")
    return [*(ret1.rolling_std(w, min_samples=2).alias(f"_momentum_vol_{w}d") for w in MOMENTUM_WINDOWS),
            *(ret1.rolling_std(w, min_samples=3).alias(f"_vol_{w}d") for w in VOL_WINDOWS)]


def _rolling_extremes(log_price: np.ndarray, windows: tuple[int, ...]) -> list[pl.Series]:
    """``_min_{w}d`` and ``_max_{w}d``: rolling min and max of the padded log price column, skipping
    missing days (``rolling_min/max(w, min_samples=1)``; null where a window holds no price).

    Doubling: the extremes over 1, 2, 4, 8 days come from pairs of the previous span, and any window
    w is two overlapping spans of the largest power of two <= w (an extreme may count a day twice).
    np.fmin/np.fmax skip NaN, so a missing day never wins. About ten vectorised passes for all windows,
    where polars runs one window at a time per statistic."""
    pad = max(windows) - 1
    padded = np.concatenate([np.full(pad, np.nan), log_price])  # row i is padded[i + pad]
    columns = []
    for name, pick in (("min", np.fmin), ("max", np.fmax)):
        spans = {1: padded}  # spans[p][j]: the extreme of padded[j - p + 1 .. j]
        p = 1
        while 2 * p <= max(windows):
            previous = spans[p]
            spans[2 * p] = previous.copy()
            pick(previous[p:], previous[:-p], out=spans[2 * p][p:])
            p *= 2
        for w in windows:
            p = 1 << (w.bit_length() - 1)
            span, back = spans[p], w - p
            extreme = pick(span[pad:], span[pad - back:span.size - back])
            columns.append(pl.Series(f"_{name}_{w}d", extreme, nan_to_null=True))
    return columns


def _volatility_of_volatility() -> list[pl.Expr]:
    return [pl.col(f"vol_{w}d").rolling_std(w, min_samples=3).alias(f"vol_of_vol_{w}d") for w in VOL_WINDOWS]


def _time_features(frame: pl.DataFrame, group_start: np.ndarray) -> list[pl.Expr | pl.Series]:
    day = pl.col("league_day")
    priced = frame["price_chaos"].is_not_null().to_numpy().astype(np.int64)
    return [
        day.alias("days_since_start"),  # league_day itself is a key column, not a model input
        (day // 7).alias("week_in_league"),
        pl.col("date").dt.weekday().alias("day_of_week"),
        pl.when(day < EARLY_DAYS).then(0).when(day < MID_DAYS).then(1).otherwise(2).alias("league_phase"),
        pl.Series("days_observed", _within_group_cum_sum(priced, group_start), dtype=pl.Int32),
    ]


def _target_log_returns() -> list[pl.Expr]:
    """log(price(t+h) / price(t)) per horizon; past a group's end lie padding rows: null, never the next
    group."""
    logp = pl.col("log_price")
    return [(logp.shift(-d) - logp).alias(target_column(h)) for h, d in HORIZON_DAYS.items()]


def _targets() -> list[pl.Expr]:
    """The other targets, from the log returns (a separate step: eager polars would recompute them)."""
    exprs = []
    for h, d in HORIZON_DAYS.items():
        logret_name, price_name, change_name, up_name = _target_names(h)
        logret = pl.col(logret_name)
        exprs += [
            pl.col("price_chaos").shift(-d).alias(price_name),
            (logret.exp() - 1.0).alias(change_name),
            (logret > 0).cast(pl.Int8).alias(up_name),
        ]
    return exprs


def _market_features(frame: pl.DataFrame) -> list[pl.Series]:
    """The whole market on the same league day (every currency's move up to t; nothing later): the mean
    over (league, league day) of present values. Summed with np.bincount over an integer day key (a
    window over two keys per column cost polars a group-by each)."""
    league = frame["league"].to_physical().to_numpy().astype(np.int64)
    day = frame["league_day"].to_numpy().astype(np.int64)
    league_day = league * (int(day.max()) + 1) + day

    def market_mean(column: str) -> np.ndarray:
        values = frame[column].to_numpy()
        present = ~np.isnan(values)
        with np.errstate(invalid="ignore", divide="ignore"):  # a day with no value at all: NaN, then null
            mean = np.bincount(league_day, np.where(present, values, 0.0)) / np.bincount(league_day, present)
        return mean[league_day]

    market_ret_7d = market_mean("ret_7d")
    columns = {
        "market_ret_1d": market_mean("ret_1d"),
        "market_ret_3d": market_mean("ret_3d"),
        "market_ret_7d": market_ret_7d,
        "market_since_launch": market_mean("since_launch"),
        "excess_ret_7d": frame["ret_7d"].to_numpy() - market_ret_7d,
    }
    return [pl.Series(name, values, nan_to_null=True) for name, values in columns.items()]


def _smoothed_profile_inputs() -> list[pl.Expr]:
    """Per league: each target and the path/level, averaged over ±2 league days (one league's
    day-to-day noise is large). Computed on the padded frame, so the window stays in its group; the
    results are only ever read for *earlier* leagues (see _add_profiles)."""
    columns = {**{target_column(h): target_column(h) for h in HORIZON_DAYS},
               "since_launch": "_since_launch", "log_price": "log_price"}  # profile input: source column
    return [pl.col(source).rolling_mean(PROFILE_SMOOTH_DAYS, min_samples=1, center=True)
            .alias(f"_smooth_{name}") for name, source in columns.items()]


def _profiles(rows: pl.DataFrame) -> pl.DataFrame:
    """Cross-league profiles: how this currency, and the market, moved at the same league day in leagues
    that ended before this one (leagues never overlap, so an earlier league is entirely in the past),
    and where this league's price and path stand against those leagues at the same day.

    ``rows`` is narrow (keys, since_launch, log_price, the _smooth_ inputs), one row per dense calendar
    day (holes included: their smoothed inputs see neighbouring days). Each input is laid out as a
    (league, currency, league day) cube, so "every earlier league" is a prefix along the first axis.
    Returns the profile columns for the rows that hold a price, in their order."""
    order = rows.group_by("league").agg(pl.col("date").min().alias("start")).sort("start", "league")
    league_codes = rows["league"].to_physical().to_numpy()
    chronological = np.zeros(int(league_codes.max()) + 1, dtype=np.int64)
    chronological[order["league"].to_physical().to_numpy()] = np.arange(order.height)
    league = chronological[league_codes]
    currency = _dense_codes(rows["currency"].to_physical().to_numpy())
    day = rows["league_day"].to_numpy().astype(np.int64)
    shape = (order.height, int(currency.max()) + 1, int(day.max()) + 1)
    cell = (league * shape[1] + currency) * shape[2] + day  # flat index of each row's cube cell
    has_price = rows["price_chaos"].is_not_null().to_numpy()
    out_cell, out_league = cell[has_price], league[has_price]
    out_market_cell = out_league * shape[2] + day[has_price]  # the same cell in a (league, 1, day) array

    def cube(column: str) -> np.ndarray:
        values = np.full(shape, np.nan)
        values.reshape(-1)[cell] = rows[column].to_numpy()
        return values

    def own_at(values: np.ndarray) -> np.ndarray:
        return values.reshape(-1).take(out_cell)

    def market_at(values: np.ndarray) -> np.ndarray:  # values: (league, 1, day)
        return values.reshape(-1).take(out_market_cell)

    exists = np.zeros(shape, dtype=bool)  # the currency had a calendar row that league day
    exists.reshape(-1)[cell] = True
    market_exists = exists.any(axis=1, keepdims=True)
    out: dict[str, np.ndarray] = {"league_index": out_league}
    market: dict[str, np.ndarray] = {}
    for h in HORIZON_DAYS:
        own = cube(f"_smooth_{target_column(h)}")
        out |= {f"profile_{h}_{k}": own_at(v) for k, v in _earlier_league_stats(own, exists).items()}
        present = ~np.isnan(own)  # np.nanmean over currencies, without its copies (same sums)
        with np.errstate(invalid="ignore", divide="ignore"):  # a (league, day) no currency reached stays NaN
            market_mean = (np.where(present, own, 0.0).sum(axis=1, keepdims=True)
                           / present.sum(axis=1, keepdims=True))
        market |= {f"market_profile_{h}_{k}": market_at(v)
                   for k, v in _earlier_league_stats(market_mean, market_exists).items()}
    since_launch = rows["since_launch"].to_numpy()[has_price]
    log_price = rows["log_price"].to_numpy()[has_price]
    typical = {column: {k: own_at(v) for k, v in _earlier_league_stats(cube(f"_smooth_{column}"), exists).items()}
               for column in ("since_launch", "log_price")}
    out |= {f"typical_path_{k}": v for k, v in typical["since_launch"].items()}
    out |= market
    out |= {f"path_gap_{k}": since_launch - v for k, v in typical["since_launch"].items()}
    out |= {f"level_gap_{k}": log_price - v for k, v in typical["log_price"].items()}
    return pl.DataFrame([pl.Series(name, values, nan_to_null=values.dtype.kind == "f")
                         for name, values in out.items()])


def _dense_codes(codes: np.ndarray) -> np.ndarray:
    """0..k-1 in the order of the distinct ``codes`` (what np.unique's inverse gives, without sorting
    every row: categorical codes are small integers, so a lookup table does it in one pass)."""
    seen = np.zeros(int(codes.max()) + 1, dtype=bool)
    seen[codes] = True
    return (np.cumsum(seen) - 1)[codes].astype(np.int64)


def _earlier_league_stats(values: np.ndarray, exists: np.ndarray) -> dict[str, np.ndarray]:
    """For a (league, ...) array with NaN where a league has no value: at each league, the mean over
    every earlier league with a value (``all``) and over the last RECENT_LEAGUES earlier leagues in
    which the cell exists (``recent``; NaN values among them are skipped). Only leagues *before* each
    position are read.

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
    # The last RECENT_LEAGUES values where the cell exists, newest first, as (value or 0, present) slots:
    # their mean is np.nanmean's (same additions in the same order), updated in place league by league.
    last_value = np.zeros((RECENT_LEAGUES, *values.shape[1:]))
    last_count = np.zeros((RECENT_LEAGUES, *values.shape[1:]))
    recent = np.empty(values.shape)
    for i in range(values.shape[0]):
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(last_value.sum(axis=0), last_count.sum(axis=0), out=recent[i])
        here = exists[i]
        for slot in range(RECENT_LEAGUES - 1, 0, -1):
            np.copyto(last_value[slot], last_value[slot - 1], where=here)
            np.copyto(last_count[slot], last_count[slot - 1], where=here)
        np.copyto(last_value[0], filled[i], where=here)
        np.copyto(last_count[0], weight[i], where=here)
    stats["recent"] = recent
    return stats
