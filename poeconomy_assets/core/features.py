"""League-aware features and 1d/3d/7d targets from daily prices (polars, no look-ahead).

Every feature at (league, currency, date t) uses prices up to t of that league, and, for the
cross-league profile, only leagues that started before this one. Windows run over the real
calendar: a missing day is missing, not the previous row.
"""

import polars as pl

from poeconomy_assets.core.schemas import HORIZON_DAYS

KEYS = ["league", "currency", "date", "league_day", "price_chaos"]
WINDOWS = (3, 7, 14)


def target_column(horizon: str) -> str:
    return f"target_logret_{horizon}"


def _dense_calendar(prices: pl.DataFrame) -> pl.DataFrame:
    """One row per currency and every league day from its first to last observation (nulls in holes)."""
    spans = prices.group_by("league", "currency").agg(
        pl.col("league_day").min().alias("first"), pl.col("league_day").max().alias("last")
    )
    grid = spans.with_columns(pl.int_ranges("first", pl.col("last") + 1).alias("league_day")).explode("league_day")
    return (
        grid.select("league", "currency", pl.col("league_day").cast(pl.Int64))
        .join(prices, on=["league", "currency", "league_day"], how="left")
        .sort("league", "currency", "league_day")
    )


def build_features(prices: pl.DataFrame) -> pl.DataFrame:
    """Features for every (league, currency, date) in ``prices`` (DailyPrices rows of all leagues)."""
    dense = _dense_calendar(prices.select("league", "currency", "date", "league_day", "price_chaos"))
    by = ["league", "currency"]
    logp = pl.col("price_chaos").log()
    exprs: list[pl.Expr] = []
    for w in WINDOWS:
        exprs += [
            (logp - logp.shift(w).over(by)).alias(f"ret_{w}d"),
            (logp.rolling_mean(w, min_samples=1).over(by) - logp).alias(f"mean_gap_{w}d"),
            logp.diff().rolling_std(w, min_samples=2).over(by).alias(f"vol_{w}d"),
            (logp.rolling_max(w, min_samples=1).over(by) - logp).alias(f"from_max_{w}d"),
            (logp - logp.rolling_min(w, min_samples=1).over(by)).alias(f"from_min_{w}d"),
        ]
    exprs += [
        (logp - logp.shift(1).over(by)).alias("ret_1d"),
        (logp - logp.first().over(by)).alias("since_launch"),
    ]
    targets = [(logp.shift(-d).over(by) - logp).alias(target_column(h)) for h, d in HORIZON_DAYS.items()]
    features = dense.with_columns(*exprs, *targets).with_columns(
        pl.col("league_day").alias("day_in_league"),
        (pl.col("league_day") // 7).alias("week_in_league"),
        pl.col("date").dt.weekday().alias("day_of_week"),
    )
    features = features.with_columns(_market_mean("ret_1d").alias("market_ret_1d"), _market_mean("ret_7d").alias("market_ret_7d"))
    features = _add_profiles(features)
    ordered = KEYS + [c for c in features.columns if c not in KEYS and not c.startswith("target_")]
    return features.filter(pl.col("price_chaos").is_not_null()).select(
        *ordered, *[target_column(h) for h in HORIZON_DAYS]
    )


def _market_mean(column: str) -> pl.Expr:
    return pl.col(column).mean().over("league", "league_day")


def _add_profiles(features: pl.DataFrame) -> pl.DataFrame:
    """Cross-league profile: this currency's average forward move at the same league day in earlier leagues."""
    order = features.group_by("league").agg(pl.col("date").min().alias("start")).sort("start")
    rank = {league: i for i, league in enumerate(order["league"].to_list())}
    features = features.with_columns(pl.col("league").replace_strict(rank, return_dtype=pl.Int64).alias("_rank"))
    history = features.select("_rank", "currency", "league_day", *[target_column(h) for h in HORIZON_DAYS])
    out = features
    for h in HORIZON_DAYS:
        per_league = history.group_by("_rank", "currency", "league_day").agg(pl.col(target_column(h)).mean())
        # expanding mean over earlier leagues only: shift by one league within (currency, league_day)
        per_league = per_league.sort("_rank").with_columns(
            (pl.col(target_column(h)).cum_sum().over("currency", "league_day")
             / pl.col(target_column(h)).is_not_null().cum_sum().over("currency", "league_day"))
            .shift(1).over("currency", "league_day")
            .alias(f"profile_{h}")
        )
        out = out.join(per_league.select("_rank", "currency", "league_day", f"profile_{h}"),
                       on=["_rank", "currency", "league_day"], how="left")
    return out.rename({"_rank": "league_rank"})


def feature_columns(features: pl.DataFrame) -> list[str]:
    """The model inputs: every column except keys, raw price and targets."""
    return [c for c in features.columns if c not in KEYS and not c.startswith("target_")]
