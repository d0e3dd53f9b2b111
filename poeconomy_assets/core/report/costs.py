"""What a round trip costs: the bid/ask spread where the prices have both sides, a stated fee where not.

Buying a currency pays the sell side's price (``price_chaos``, what one unit costs in chaos); selling it
back gets the buy side's price, lower by the day's spread. When the daily prices carry the buy side (a
``buy_price_chaos`` or ``log_spread`` column, or a ``spread`` column as a fraction of the price), a currency's cost is the
median spread of its last ``SPREAD_DAYS`` days; otherwise, or for a currency with no buy-side price in
that window, it is the stated ``fallback`` (a fee a trader would pay, default 1%).
"""

import polars as pl

SPREAD_DAYS = 7
DEFAULT_FEE = 0.01  # round-trip cost assumed where the data has only one side of the market
SPREAD_COLUMNS = ("spread", "bid_ask_spread", "spread_share")
BUY_SIDE_COLUMNS = ("buy_price_chaos", "bid_chaos", "price_chaos_buy")
MAX_SPREAD = 0.9


def has_both_sides(prices: pl.DataFrame) -> bool:
    """True when some row of ``prices`` carries the buy side (or a spread)."""
    return any(c in prices.columns and prices[c].is_not_null().any()
               for c in (*SPREAD_COLUMNS, "log_spread", *BUY_SIDE_COLUMNS))


def spread_expr(prices: pl.DataFrame) -> pl.Expr | None:
    """The day's spread as a fraction of the sell price, from whichever column the prices carry."""
    for column in SPREAD_COLUMNS:
        if column in prices.columns:
            return pl.col(column).cast(pl.Float64)
    if "log_spread" in prices.columns:  # log(sell / buy), as core.ingest.dumps writes it
        return 1 - (-pl.col("log_spread").cast(pl.Float64)).exp()
    for column in BUY_SIDE_COLUMNS:
        if column in prices.columns:
            return 1 - pl.col(column).cast(pl.Float64) / pl.col("price_chaos")
    return None


def round_trip_costs(prices: pl.DataFrame, fallback: float = DEFAULT_FEE, days: int = SPREAD_DAYS) -> pl.DataFrame:
    """One row per currency of ``prices``: ``cost`` (fraction of the buy price lost on a round trip) and
    ``cost_source`` ("bid/ask spread" or "assumed fee")."""
    currencies = prices.select("currency").unique()
    spread = spread_expr(prices)
    if spread is None or prices.is_empty() or not has_both_sides(prices):
        return currencies.with_columns(cost=pl.lit(fallback), cost_source=pl.lit("assumed fee"))
    last = prices["date"].max()
    measured = (prices.filter(pl.col("date") > pl.lit(last) - pl.duration(days=days))
                .with_columns(spread.clip(0.0, MAX_SPREAD).alias("_spread"))
                .group_by("currency").agg(pl.col("_spread").drop_nans().median().alias("_measured")))
    return currencies.join(measured, on="currency", how="left").select(
        "currency",
        pl.col("_measured").fill_null(fallback).alias("cost"),
        pl.when(pl.col("_measured").is_null()).then(pl.lit("assumed fee")).otherwise(pl.lit("bid/ask spread"))
        .alias("cost_source"),
    )
