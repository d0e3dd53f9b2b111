"""How far a currency's source data can be trusted, apart from what the model thinks of its price.

Per currency over the last ``window`` days of a league: the share of days with a price, the share of
prices the source marked low-confidence, the mean traded volume (only sources that report one), a
0..1 liquidity figure, and a flag with its reason. A figure the data cannot support is null, and the
reason says why.
"""

import polars as pl

WINDOW_DAYS = 14
MIN_DAYS = 5  # fewer observed days than this: no volatility, no liquidity
LOW_CONFIDENCE_LIMIT = 0.3
MISSING_LIMIT = 0.3
SUSPECT_JUMP = 3.0  # the latest price more than 3× away from the window's median: likely a bad quote


def data_quality(prices: pl.DataFrame, window: int = WINDOW_DAYS) -> pl.DataFrame:
    """One row per currency of ``prices`` (one league's DailyPrices): days_observed, missing_share,
    low_confidence_share, volume (null without a volume column), volatility (std of daily log returns),
    liquidity, quote_vs_median (the latest price / the window's median), data_quality (ok / low confidence /
    sparse / suspect quote / insufficient) and data_quality_reason. A *suspect quote* is a latest price more than
    SUSPECT_JUMP times away from the window's median: a one-day glitch in the source (real dumps have them:
    an item trading at ~20 c quoted at 0.85 c for a day) must not look like a bargain."""
    last = prices["date"].max()
    recent = prices.filter(pl.col("date") > pl.lit(last) - pl.duration(days=window)).sort("currency", "date")
    has_volume = "volume" in recent.columns
    stats = recent.group_by("currency").agg(
        pl.len().alias("days_observed"),
        (pl.col("confidence") == "Low").mean().alias("low_confidence_share"),
        pl.col("price_chaos").log().diff().std().alias("volatility"),
        (pl.col("price_chaos").last() / pl.col("price_chaos").median()).alias("quote_vs_median"),
        (pl.col("volume").mean() if has_volume else pl.lit(None, dtype=pl.Float64)).alias("volume"),
    )
    observed = pl.col("days_observed")
    missing = (1 - observed / window).clip(0, 1)
    enough = observed >= MIN_DAYS
    liquidity = (observed / window).clip(0, 1) * (1 - pl.col("low_confidence_share"))
    if has_volume:  # a reported volume scales liquidity against the league's median currency
        liquidity = liquidity * (pl.col("volume") / pl.col("volume").median()).clip(0, 1)
    flag = (
        pl.when(~enough)
        .then(pl.lit("insufficient"))
        .when((pl.col("quote_vs_median") > SUSPECT_JUMP) | (pl.col("quote_vs_median") < 1 / SUSPECT_JUMP))
        .then(pl.lit("suspect quote"))
        .when(pl.col("low_confidence_share") > LOW_CONFIDENCE_LIMIT)
        .then(pl.lit("low confidence"))
        .when(missing > MISSING_LIMIT)
        .then(pl.lit("sparse"))
        .otherwise(pl.lit("ok"))
    )
    reason = pl.format(
        "{} of the last {} days priced, {}% low-confidence{}",
        observed,
        pl.lit(window),
        (100 * pl.col("low_confidence_share")).round(0).cast(pl.Int64),
        pl.lit("" if has_volume else "; source reports no volume"),
    )
    return stats.with_columns(
        missing.alias("missing_share"),
        pl.when(enough).then(pl.col("volatility")).alias("volatility"),
        pl.when(enough).then(liquidity).alias("liquidity"),
        flag.alias("data_quality"),
        reason.alias("data_quality_reason"),
    ).sort("currency")
