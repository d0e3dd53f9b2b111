"""Rebalancing triggers from the daily forecast history of one league.

- ``sign flip``: today's expected return has the opposite sign of yesterday's forecast at the same horizon;
- ``left interval``: today's price is outside the 80% interval that the forecast made ``h`` days ago
  gave for today.
"""

import polars as pl

from poeconomy_assets.core.schemas import HORIZON_DAYS

TRIGGER_SCHEMA = {"currency": pl.Utf8, "horizon": pl.Utf8, "trigger": pl.Utf8, "detail": pl.Utf8}


def rebalancing_triggers(forecasts: pl.DataFrame) -> pl.DataFrame:
    """Rows currency, horizon, trigger, detail for one league's forecasts (every as-of date)."""
    if forecasts.is_empty():
        return pl.DataFrame(schema=TRIGGER_SCHEMA)
    ordered = forecasts.sort("currency", "horizon", "as_of")
    by = ["currency", "horizon"]
    last_two = (
        ordered.group_by(by, maintain_order=True)
        .tail(2)
        .with_columns(
            pl.col("expected_return").shift(1).over(by).alias("previous_return"),
            pl.col("as_of").shift(1).over(by).alias("previous_as_of"),
        )
        .group_by(by, maintain_order=True)
        .last()
    )
    flips = last_two.filter(
        pl.col("previous_return").is_not_null()
        & (pl.col("expected_return").sign() * pl.col("previous_return").sign() < 0)
    ).select(
        *by,
        pl.lit("sign flip").alias("trigger"),
        pl.format(
            "expected return {}% on {} after {}% on {}",
            (100 * pl.col("expected_return")).round(2),
            pl.col("as_of"),
            (100 * pl.col("previous_return")).round(2),
            pl.col("previous_as_of"),
        ).alias("detail"),
    )
    today = (
        ordered.group_by(by, maintain_order=True)
        .last()
        .select(*by, pl.col("as_of").alias("today"), pl.col("price_chaos").alias("today_price"))
    )
    made = ordered.with_columns(
        (
            pl.col("as_of")
            + pl.duration(days=pl.col("horizon").replace_strict(HORIZON_DAYS, return_dtype=pl.Int64))
        ).alias("today")
    ).select(*by, "today", pl.col("as_of").alias("made_on"), "lower_80", "upper_80")
    left = (
        today.join(made, on=[*by, "today"], how="inner")
        .filter((pl.col("today_price") < pl.col("lower_80")) | (pl.col("today_price") > pl.col("upper_80")))
        .select(
            *by,
            pl.lit("left interval").alias("trigger"),
            pl.format(
                "price {} on {} outside the 80% interval {}–{} forecast on {}",
                pl.col("today_price").round_sig_figs(4),
                pl.col("today"),
                pl.col("lower_80").round_sig_figs(4),
                pl.col("upper_80").round_sig_figs(4),
                pl.col("made_on"),
            ).alias("detail"),
        )
    )
    return pl.concat([flips, left]).cast(TRIGGER_SCHEMA).sort("currency", "horizon", "trigger")
