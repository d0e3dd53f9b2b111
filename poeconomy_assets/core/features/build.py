"""League-aware features from daily prices: what each feature means (polars, no look-ahead).

Every feature at (league, currency, date t) uses prices up to t of that league and, for the cross-league
profiles (profiles.py), only leagues that ended before this one started. Windows run over the real calendar:
a missing day is a null, never the previous row. Prices enter as logs, so every "normalised by the current
price" statistic is a log ratio (scale-free across currencies). The targets are in targets.py; how the
windows are computed fast (one long padded column, bottleneck kernels) is in kernels.py.

The features, with w the window in days:
- ``log_price``; ``since_launch``: the log price relative to the group's first day;
- ``mean_gap_{w}d``, ``median_gap_{w}d``, ``min_gap_{w}d``, ``max_gap_{w}d``: the rolling statistic of the
  log price minus today's log price; ``std_{w}d``: its rolling standard deviation;
- ``ret_{w}d``: the w-day log return; ``momentum_vol_{w}d``: the std of daily returns over w days;
  ``trend_{w}d``: the return in units of that noise (a t-statistic);
- ``vol_{w}d``: realised volatility (std of daily returns); ``vol_ratio_{w}d``: against the mean absolute
  daily move so far; ``vol_of_vol_{w}d``: the rolling std of ``vol_{w}d``;
- ``days_since_start``, ``week_in_league``, ``day_of_week``, ``league_phase`` (see :func:`league_phase`),
  ``days_observed`` (days with a price so far in the league);
- ``market_*``: the mean over every currency of the same league on the same league day; ``excess_ret_7d``:
  this currency's 7-day return minus the market's;
- the market signal of the full dumps (market_signal.py; the families in ``SIGNAL``): the bid/ask spread
  and its changes, Confidence, how many items moved together that day, the item's price tier.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from poeconomy_assets.core.features.kernels import (
    dense_calendar,
    group_start_rows,
    mean_by_key,
    rolling_extremes,
    rolling_medians,
    within_group_cum_sum,
)
from poeconomy_assets.core.features.market_signal import SIGNAL_FAMILIES, signal_in_day_order, signal_inputs
from poeconomy_assets.core.features.profiles import profiles, smoothed_profile_inputs
from poeconomy_assets.core.features.targets import (
    other_targets,
    target_column,
    target_log_returns,
    target_names,
)
from poeconomy_assets.core.schemas import HORIZON_DAYS

__all__ = [
    "EARLY_DAYS",
    "KEYS",
    "MID_DAYS",
    "build_features",
    "feature_columns",
    "league_phase",
    "target_column",
]

KEYS = ["league", "currency", "date", "league_day", "price_chaos"]
STAT_WINDOWS = (3, 5, 7, 14)  # rolling mean/std/min/max/median (a 1-day window is just ret_1d)
MOMENTUM_WINDOWS = (3, 5, 7)
VOL_WINDOWS = (7, 14)
EARLY_DAYS, MID_DAYS = 7, 28  # league phases: the launch rush, the settling month, the long tail
FEATURES_VERSION = "3"  # bump when a feature's values change for the same prices (the asset's code version)
# The market-signal families (market_signal.SIGNAL_FAMILIES) each horizon's models read: the ones that helped
# on validation leagues held out before any development league (Sentinel, Kalandra, Sanctum; see
# benchmarks/RESULTS-forecasting.md, "Market signal per horizon"). The features table carries their union.
# The rule: the variant of bench_signal.py with the lowest mean relative MAE over those three leagues.
HORIZON_SIGNAL: dict[str, tuple[str, ...]] = {
    "1d": (),  # no family helped
    "3d": ("sticky",),
    "7d": ("spread", "confidence", "breadth", "tier", "sticky"),
}
SIGNAL = tuple(f for f in SIGNAL_FAMILIES if any(f in families for families in HORIZON_SIGNAL.values()))


def league_phase(league_day: np.ndarray) -> np.ndarray:
    """0 in the launch week (league day < EARLY_DAYS), 1 in the rest of the first month (< MID_DAYS), 2 after:
    the one definition of the phases that the features, the ensemble's shrink factors and the intervals use."""
    day = np.asarray(league_day)
    return np.where(day < EARLY_DAYS, 0, np.where(day < MID_DAYS, 1, 2))


def feature_columns(features: pl.DataFrame, horizon: str | None = None) -> list[str]:
    """The model inputs: every column except keys, raw price and targets; for ``horizon``, without the
    market-signal families its models do not read (``HORIZON_SIGNAL``)."""
    unread = set()
    if horizon is not None:
        unread = {
            c for f, columns in SIGNAL_FAMILIES.items() if f not in HORIZON_SIGNAL[horizon] for c in columns
        }
    return [c for c in features.columns if c not in KEYS and not c.startswith("target_") and c not in unread]


def build_features(prices: pl.DataFrame, signal: tuple[str, ...] = SIGNAL) -> pl.DataFrame:
    """Features for every (league, currency, date) in ``prices`` (DailyPrices rows of all leagues).

    Output columns: the keys (league, currency, date, league_day, price_chaos), the numeric features (with the
    market-signal families in ``signal``), then per horizon the targets of targets.py.
    """
    if prices.is_empty():
        raise ValueError("build_features needs at least one price row")
    price = prices["price_chaos"]
    if ((price <= 0) | price.is_infinite()).any():  # the kernels read a NaN log price as a missing day
        raise ValueError("build_features needs finite positive prices (DailyPrices.price_chaos > 0)")
    # Enum keys: every join, sort and window below compares integers instead of strings, and their codes follow
    # the sorted names, so the calendar's group order (and every running sum's last bit) is the same whatever
    # the order of the input rows.
    keys = prices.select(
        *(pl.col(c).cast(pl.Enum(prices[c].unique().sort())) for c in ("league", "currency")),
        "date",
        "league_day",
        "price_chaos",
    )
    features = dense_calendar(keys).with_columns(pl.col("price_chaos").log().alias("log_price"))
    # The inputs of the cross-league profiles first (they read no rolling window), so the numpy steps
    # (profiles; rolling medians and extremes) run on worker threads beside the polars ones: both
    # release the GIL, so the two cores stay busy.
    features = features.with_columns(_since_launch(), *target_log_returns())  # (targets: ordered at the end)
    features = features.with_columns(*other_targets(), *smoothed_profile_inputs())
    with ThreadPoolExecutor(max_workers=2) as workers:
        # Every filter or join of the wide frame copies each of its columns: profiles are computed on a
        # narrow frame, and only the output columns (no "_" helpers) of the wide one are filtered, once.
        cross_league = workers.submit(
            profiles,
            features.select(
                "league",
                "currency",
                "date",
                "league_day",
                "price_chaos",
                pl.col("_since_launch").alias("since_launch"),
                "log_price",
                pl.col("^_smooth_.*$"),
                "_pad",
            ).filter(~pl.col("_pad")),
        )
        windows = workers.submit(_price_windows, features["log_price"].to_numpy())
        group_start = group_start_rows(features)
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
        features = features.select(*(c for c in features.columns if not c.startswith("_")), "_source").filter(
            priced
        )
        extra = _market_signal(prices, features, signal)
        features = features.drop("_source").with_columns(
            pl.col("league", "currency").cast(pl.String), pl.col("league_day").cast(pl.Int64)
        )
        features = pl.concat([features, cross_league.result(), *extra], how="horizontal")
    targets = [c for h in HORIZON_DAYS for c in target_names(h)]
    ordered = KEYS + [c for c in features.columns if c not in KEYS and c not in targets] + targets
    return features.select(*ordered).with_columns(pl.col("league_index").cast(pl.Int64))


def _market_signal(prices: pl.DataFrame, output: pl.DataFrame, signal: tuple[str, ...]) -> list[pl.DataFrame]:
    """The market-signal columns (market_signal.py) of every ``output`` row, in its order. ``output`` holds one
    row per input row (``_source``), grouped by (league, currency) and by date within a group: the order the
    signal reads, so its columns line up with the features with no sort and no join on the names (it cost
    as much as every other feature together). The enum keys make its comparisons and windows cheap."""
    if not signal:
        return []
    rows = signal_inputs(prices).drop("league", "currency").gather(output["_source"])
    rows = rows.with_columns(output["league"], output["currency"])
    return [signal_in_day_order(rows, signal).drop("league", "currency", "date")]


def _price_windows(log_price: np.ndarray) -> list[pl.Series]:
    """``_median_{w}d``, ``_min_{w}d``, ``_max_{w}d``: rolling statistics of the log price over the present
    days of each window (kernels.py; polars re-sorts every window for a median)."""
    minimums, maximums = rolling_extremes(log_price, STAT_WINDOWS)
    columns = {f"_median_{w}d": m for w, m in zip(STAT_WINDOWS, rolling_medians(log_price, STAT_WINDOWS))}
    columns |= {f"_min_{w}d": m for w, m in zip(STAT_WINDOWS, minimums)}
    columns |= {f"_max_{w}d": m for w, m in zip(STAT_WINDOWS, maximums)}
    return [pl.Series(name, values, nan_to_null=True) for name, values in columns.items()]


def _masked(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Null ``columns`` on padding rows, so a later window cannot carry one group into the next."""
    return frame.with_columns(pl.when(~pl.col("_pad")).then(pl.col(columns)).name.keep())


def _daily_returns(frame: pl.DataFrame, group_start: np.ndarray) -> list[pl.Series]:
    """The 1-day log return and the mean absolute daily move so far in the group (read by many windows).
    numpy: polars evaluated the return three times and each running sum twice (no CSE when eager)."""
    log_price = frame["log_price"].to_numpy()
    ret1 = np.concatenate([[np.nan], log_price[1:] - log_price[:-1]])  # padding rows keep groups apart
    observed = ~np.isnan(ret1)
    with np.errstate(invalid="ignore", divide="ignore"):  # no move observed yet: NaN, as polars gives
        mean_abs_move = within_group_cum_sum(
            np.where(observed, np.abs(ret1), 0.0), group_start
        ) / within_group_cum_sum(observed.astype(np.int64), group_start)
    return [pl.Series("ret_1d", ret1, nan_to_null=True), pl.Series("_mean_abs_move", mean_abs_move)]


def _since_launch() -> pl.Expr:
    """The log price relative to the group's first day (the path since launch)."""
    logp = pl.col("log_price")
    return (logp - pl.when(pl.col("_start")).then(logp).forward_fill()).alias("_since_launch")


def _own_history() -> list[pl.Expr]:
    """Rolling statistics, momentum and volatility of this currency's own log price (past days only).
    Windows run over the padded, sorted column (see kernels.dense_calendar), never across groups."""
    logp = pl.col("log_price")
    exprs = [pl.col("_since_launch").alias("since_launch")]  # computed early, for the profiles
    for w in STAT_WINDOWS:
        exprs += [
            (logp.rolling_mean(w, min_samples=1) - logp).alias(f"mean_gap_{w}d"),
            logp.rolling_std(w, min_samples=2).alias(f"std_{w}d"),
            (pl.col(f"_min_{w}d") - logp).alias(f"min_gap_{w}d"),  # see _price_windows
            (pl.col(f"_max_{w}d") - logp).alias(f"max_gap_{w}d"),
            (pl.col(f"_median_{w}d") - logp).alias(f"median_gap_{w}d"),
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


def _return_volatility() -> list[pl.Expr]:
    """Rolling std of the daily return, each computed once: the momentum and volatility features read
    it twice (raw and inside a ratio), and an eager with_columns evaluates a repeated window twice."""
    ret1 = pl.col("ret_1d")
    return [
        *(ret1.rolling_std(w, min_samples=2).alias(f"_momentum_vol_{w}d") for w in MOMENTUM_WINDOWS),
        *(ret1.rolling_std(w, min_samples=3).alias(f"_vol_{w}d") for w in VOL_WINDOWS),
    ]


def _volatility_of_volatility() -> list[pl.Expr]:
    return [pl.col(f"vol_{w}d").rolling_std(w, min_samples=3).alias(f"vol_of_vol_{w}d") for w in VOL_WINDOWS]


def _time_features(frame: pl.DataFrame, group_start: np.ndarray) -> list[pl.Expr | pl.Series]:
    day = pl.col("league_day")
    priced = frame["price_chaos"].is_not_null().to_numpy().astype(np.int64)
    return [
        day.alias("days_since_start"),  # league_day itself is a key column, not a model input
        (day // 7).alias("week_in_league"),
        pl.col("date").dt.weekday().alias("day_of_week"),
        pl.Series("league_phase", league_phase(frame["league_day"].to_numpy()), dtype=pl.Int32),
        pl.Series("days_observed", within_group_cum_sum(priced, group_start), dtype=pl.Int32),
    ]


def _market_features(frame: pl.DataFrame) -> list[pl.Series]:
    """The whole market on the same league day (every currency's move up to t; nothing later): the mean
    over (league, league day) of present values."""
    league = frame["league"].to_physical().to_numpy().astype(np.int64)
    day = frame["league_day"].to_numpy().astype(np.int64)
    league_day = league * (int(day.max()) + 1) + day

    def market_mean(column: str) -> np.ndarray:
        return mean_by_key(league_day, frame[column].to_numpy())

    market_ret_7d = market_mean("ret_7d")
    columns = {
        "market_ret_1d": market_mean("ret_1d"),
        "market_ret_3d": market_mean("ret_3d"),
        "market_ret_7d": market_ret_7d,
        "market_since_launch": market_mean("since_launch"),
        "excess_ret_7d": frame["ret_7d"].to_numpy() - market_ret_7d,
    }
    return [pl.Series(name, values, nan_to_null=True) for name, values in columns.items()]
