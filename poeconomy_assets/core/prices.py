"""Helpers shared by every source of daily prices (dumps, the live API)."""

import polars as pl

DIVINE = "Divine Orb"


def league_order(frame: pl.DataFrame) -> list[str]:
    """The leagues of ``frame`` (columns league, date) oldest first: by first date, then by name. Leagues never
    overlap, so this is also the order in which they ended."""
    return frame.group_by("league").agg(pl.col("date").min()).sort("date", "league")["league"].to_list()


def add_league_day(df: pl.DataFrame) -> pl.DataFrame:
    """``league_day``: days since the league's first date in the data (0 on launch day)."""
    return df.with_columns(
        (pl.col("date") - pl.col("date").min().over("league"))
        .dt.total_days()
        .cast(pl.Int64)
        .alias("league_day")
    )


def add_divine_prices(df: pl.DataFrame, divine_name: str = DIVINE) -> pl.DataFrame:
    """``price_divine``: chaos price divided by the Divine Orb's chaos price on the same league and day."""
    divine = df.filter(pl.col("currency") == divine_name).select(
        "league", "date", pl.col("price_chaos").alias("_divine_chaos")
    )
    return (
        df.drop("price_divine", strict=False)
        .join(divine, on=["league", "date"], how="left")
        .with_columns((pl.col("price_chaos") / pl.col("_divine_chaos")).alias("price_divine"))
        .drop("_divine_chaos")
    )
