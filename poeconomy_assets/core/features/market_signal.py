"""What the full poe.ninja dumps carry beyond one daily close: the bid/ask spread, Confidence, how many
items moved together that day (market breadth) and the item's price tier. No look-ahead: every value at
(league, currency, date t) reads days up to t of that league only. Windows run over calendar days
(``*_by("date")``), so a missing day is never mistaken for the previous row.

Each family is a list of columns (``SIGNAL_FAMILIES``) so an experiment can add or drop it as a whole;
``benchmarks/RESULTS-forecasting.md`` says which families earned their place.
"""

import polars as pl

BY = ["league", "currency"]
CONFIDENCE_LEVEL = {"High": 0, "Medium": 1, "Low": 2}
BIG_MOVE = 0.05  # a 1-day log move this large counts as a "big" move in the breadth statistics
FLAT = 0.005  # below this a 1-day move is noise (poe.ninja rounds cheap items)

SIGNAL_FAMILIES = {
    "spread": ["spread", "spread_known", "spread_change_1d", "spread_gap_7d", "spread_mean_7d", "buy_ret_1d"],
    "confidence": ["confidence_level", "not_high_share_7d"],
    "breadth": [
        "breadth_up",
        "breadth_down",
        "breadth_net",
        "breadth_big",
        "breadth_net_3d",
        "market_items_change",
    ],
    "tier": ["log_price_level", "price_rank"],
    # Prices are sticky and move in ticks (36-45% of 1-day changes are exactly zero): where the price sits
    # against a whole chaos, how big one chaos is against it, how often it did not move lately, for how long
    # it has not, and whether both sides of the market are quoted.
    "sticky": [
        "tick_distance",
        "tick_size",
        "unchanged_share_7d",
        "unchanged_share_14d",
        "days_since_change",
        "both_sides",
    ],
}
UNCHANGED = 1e-9  # a 1-day log move below this is "no change" (the same quoted price)


def signal_columns(families: list[str] | tuple[str, ...] | None = None) -> list[str]:
    names = SIGNAL_FAMILIES if families is None else {f: SIGNAL_FAMILIES[f] for f in families}
    return [c for columns in names.values() for c in columns]


def market_signal(prices: pl.DataFrame, families: list[str] | tuple[str, ...] | None = None) -> pl.DataFrame:
    """Signal columns for every (league, currency, date) of ``prices`` (DailyPrices rows, any leagues), sorted
    by league, currency and date. The buy-side columns may be absent (sources with one side): the spread
    family is then null."""
    frame = signal_inputs(prices).sort(*BY, "date")
    repeated = (pl.col("date") == pl.col("date").shift(1)) & _same_group_as_previous_row()
    if frame.select(repeated.any()).item():
        raise ValueError("market_signal needs one row per (league, currency, date)")
    return signal_in_day_order(frame, families)


def signal_inputs(prices: pl.DataFrame) -> pl.DataFrame:
    """The columns the signal reads, under the names :func:`signal_in_day_order` expects."""
    return prices.select(
        "league",
        "currency",
        "date",
        "price_chaos",
        _optional(prices, "log_spread", pl.Float64).alias("spread"),
        _optional(prices, "buy_price_chaos", pl.Float64).alias("_buy"),
        _optional(prices, "confidence", pl.Utf8).alias("_confidence"),
    )


def signal_in_day_order(
    frame: pl.DataFrame, families: list[str] | tuple[str, ...] | None = None
) -> pl.DataFrame:
    """:func:`market_signal` of ``frame`` (:func:`signal_inputs` rows, one per (league, currency, date), each
    (league, currency) in consecutive rows by ascending date), row for row: build_features hands its rows over
    in this order, so neither the sort nor a join back is needed. Yesterday is the row before when it is the
    same (league, currency) one day earlier (after a missing day, there is none)."""
    families = tuple(SIGNAL_FAMILIES) if families is None else tuple(families)
    frame = frame.with_columns(
        (
            (pl.col("date").shift(1) == pl.col("date") - pl.duration(days=1)) & _same_group_as_previous_row()
        ).alias("_follows")
    )

    def yesterday(value: pl.Expr) -> pl.Expr:
        return pl.when(pl.col("_follows")).then(value.shift(1))

    logp = pl.col("price_chaos").log()
    out = [pl.col(*BY, "date")]
    if "spread" in families:
        mean7 = pl.col("spread").rolling_mean_by("date", "7d").over(BY)
        frame = frame.with_columns(mean7.alias("spread_mean_7d"), pl.col("_buy").log().alias("_logbuy"))
        out += [
            pl.col("spread"),
            pl.col("spread").is_not_null().cast(pl.Int8).alias("spread_known"),
            (pl.col("spread") - yesterday(pl.col("spread"))).alias("spread_change_1d"),
            (pl.col("spread") - pl.col("spread_mean_7d")).alias("spread_gap_7d"),
            pl.col("spread_mean_7d"),
            (pl.col("_logbuy") - yesterday(pl.col("_logbuy"))).alias("buy_ret_1d"),
        ]
    if "confidence" in families:
        level = pl.col("_confidence").replace_strict(CONFIDENCE_LEVEL, default=None, return_dtype=pl.Int8)
        frame = frame.with_columns(level.alias("confidence_level"))
        out += [
            pl.col("confidence_level"),
            (pl.col("confidence_level") > 0)
            .cast(pl.Float64)
            .rolling_mean_by("date", "7d")
            .over(BY)
            .alias("not_high_share_7d"),
        ]
    if "breadth" in families:
        frame = frame.with_columns((logp - yesterday(logp)).alias("_ret_1d"))
        frame = frame.join(_breadth(frame), on=["league", "date"], how="left", maintain_order="left")
        out += [pl.col(c) for c in SIGNAL_FAMILIES["breadth"]]
    if "tier" in families:
        out += [
            logp.alias("log_price_level"),
            (
                (pl.col("price_chaos").rank("average").over("league", "date") - 0.5)
                / pl.len().over("league", "date")
            ).alias("price_rank"),
        ]
    if "sticky" in families:
        frame = frame.with_columns(_sticky_inputs(logp, yesterday(logp)))
        out += [
            (pl.col("price_chaos") - pl.col("price_chaos").round()).abs().alias("tick_distance"),
            (1.0 / pl.col("price_chaos")).log1p().alias("tick_size"),
            *(
                (
                    pl.col("_unchanged").rolling_sum_by("date", f"{w}d").over(BY)
                    / pl.col("_compared").rolling_sum_by("date", f"{w}d").over(BY)
                )
                .fill_nan(None)
                .alias(f"unchanged_share_{w}d")
                for w in (7, 14)
            ),
            (pl.col("date") - pl.col("_last_change")).dt.total_days().alias("days_since_change"),
            pl.col("_buy").is_not_null().cast(pl.Int8).alias("both_sides"),
        ]
    return frame.select(out)


def _sticky_inputs(logp: pl.Expr, yesterday_logp: pl.Expr) -> list[pl.Expr]:
    """Per row: whether today could be compared with yesterday, whether the price was unchanged, and the date
    of the last change (the group's first day before any)."""
    move = (logp - yesterday_logp).abs()
    changed = move >= UNCHANGED
    return [
        move.is_not_null().cast(pl.Float64).alias("_compared"),
        (move < UNCHANGED).fill_null(False).cast(pl.Float64).alias("_unchanged"),
        pl.when(changed.fill_null(False) | ~_same_group_as_previous_row().fill_null(False))
        .then(pl.col("date"))
        .forward_fill()
        .alias("_last_change"),
    ]


def _same_group_as_previous_row() -> pl.Expr:
    return (pl.col("league") == pl.col("league").shift(1)) & (
        pl.col("currency") == pl.col("currency").shift(1)
    )


def _optional(frame: pl.DataFrame, column: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(column).cast(dtype) if column in frame.columns else pl.lit(None, dtype=dtype)


def _breadth(frame: pl.DataFrame) -> pl.DataFrame:
    """Per (league, date): the share of items that rose, fell, and moved more than BIG_MOVE since yesterday
    (of those priced both days), their 3-day sum, and the change in how many items were priced."""
    ret = pl.col("_ret_1d")
    daily = (
        frame.group_by("league", "date")
        .agg(
            (ret > FLAT).mean().alias("breadth_up"),
            (ret < -FLAT).mean().alias("breadth_down"),
            (ret.abs() > BIG_MOVE).mean().alias("breadth_big"),
            pl.len().alias("_items"),
        )
        .sort("league", "date")
        .with_columns((pl.col("breadth_up") - pl.col("breadth_down")).alias("breadth_net"))
    )
    prev = daily.select(
        "league", (pl.col("date") + pl.duration(days=1)).alias("date"), pl.col("_items").alias("_items_prev")
    )
    return (
        daily.join(prev, on=["league", "date"], how="left")
        .with_columns(
            pl.col("breadth_net").rolling_sum_by("date", "3d").over("league").alias("breadth_net_3d"),
            (pl.col("_items").log() - pl.col("_items_prev").log()).alias("market_items_change"),
        )
        .select("league", "date", *SIGNAL_FAMILIES["breadth"])
    )
