"""pandera schemas, one per table the graph stores. They are the contracts between modules.

Column conventions used across the project:
- ``league``/``currency`` hold real names (not partition keys); ``date`` is a calendar day (UTC).
- Prices are chaos-denominated (``*_chaos``); ``price_divine`` converts with the Divine Orb's
  own price on the same league and day (null when that day has no Divine Orb price).
"""

from typing import Optional

import pandera.polars as pa
import polars as pl

CONFIDENCE_WORDS = ("High", "Medium", "Low")
HORIZONS = ("1d", "3d", "7d")
HORIZON_DAYS = {"1d": 1, "3d": 3, "7d": 7}

# The stored columns of the two price tables, in order, with their polars types: every store, parser and
# importer reads them from here. (The pandera models below add the value checks.)
SNAPSHOT_COLUMNS: dict[str, pl.DataType] = {
    "league": pl.Utf8(),
    "currency": pl.Utf8(),
    "category": pl.Utf8(),
    "item_id": pl.Int64(),
    "snapshot_at": pl.Datetime("us", "UTC"),
    "mean_chaos": pl.Float64(),
    "min_chaos": pl.Float64(),
    "max_chaos": pl.Float64(),
    "daily": pl.Int64(),  # listings seen in the last 24 h: the volume proxy
    "low_confidence": pl.Boolean(),
    "payload_hash": pl.Utf8(),  # sha256 of the archived response the row came from
}
DAILY_COLUMNS: dict[str, pl.DataType] = {
    "league": pl.Utf8(),
    "currency": pl.Utf8(),
    "date": pl.Date(),
    "league_day": pl.Int64(),
    "price_chaos": pl.Float64(),
    "price_divine": pl.Float64(),
    "confidence": pl.Utf8(),
    "source": pl.Utf8(),
}
# The buy side of the market beside DAILY_COLUMNS (see DailyPrices): in the dumps and the daily_prices asset,
# null where a source has one side only; the price stores keep DAILY_COLUMNS.
MARKET_SIDE_COLUMNS: dict[str, pl.DataType] = {
    "buy_price_chaos": pl.Float64(),
    "buy_confidence": pl.Utf8(),
    "log_spread": pl.Float64(),
}


class DailyPrices(pa.DataFrameModel):
    """One row per (league, currency, date): the daily chaos price of one currency.

    ``price_chaos`` is the sell side (what one unit costs in chaos). The buy side, when the source has
    one (poe.ninja's full dumps), is ``buy_price_chaos`` (1 / Value of the row where Get = Chaos Orb)
    with its own ``buy_confidence``, and ``log_spread`` = log(price_chaos / buy_price_chaos), the day's
    bid/ask spread. All three are null where a day has no buy side or the source has none (POE Watch,
    the old 13-currency dumps); frames built before they existed may leave them out.
    """

    league: str = pa.Field(str_length={"min_value": 1})
    currency: str = pa.Field(str_length={"min_value": 1})
    date: pl.Date
    league_day: int = pa.Field(ge=0)
    price_chaos: float = pa.Field(gt=0)
    price_divine: float = pa.Field(gt=0, nullable=True)
    confidence: str = pa.Field(isin=CONFIDENCE_WORDS)
    source: str = pa.Field(isin=("poe.ninja", "poe.watch", "simulator"))
    buy_price_chaos: Optional[float] = pa.Field(gt=0, nullable=True)  # noqa: UP045 (pandera reads Optional)
    buy_confidence: Optional[str] = pa.Field(isin=CONFIDENCE_WORDS, nullable=True)  # noqa: UP045
    log_spread: Optional[float] = pa.Field(nullable=True)  # noqa: UP045

    class Config:
        strict = False  # live prices add open/high/low/n_snapshots/volume columns
        unique = ("league", "currency", "date")


class Features(pa.DataFrameModel):
    """One row per (league, currency, date): model inputs known at the close of that day, and targets."""

    league: str
    currency: str
    date: pl.Date
    league_day: int = pa.Field(ge=0)
    price_chaos: float = pa.Field(gt=0)
    target_logret_1d: float = pa.Field(nullable=True)
    target_logret_3d: float = pa.Field(nullable=True)
    target_logret_7d: float = pa.Field(nullable=True)

    class Config:
        strict = False  # the feature columns themselves evolve with the model
        unique = ("league", "currency", "date")

    @pa.dataframe_check
    def numeric_columns_finite(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """No feature may be +/-inf or NaN (null is allowed: not enough history yet)."""
        numeric = [c for c, t in data.lazyframe.collect_schema().items() if t.is_float()]
        if not numeric:
            return data.lazyframe.select(pl.lit(True))
        return data.lazyframe.select(
            pl.all_horizontal([pl.col(c).is_finite() | pl.col(c).is_null() for c in numeric])
        )


class Forecasts(pa.DataFrameModel):
    """One row per (league, currency, horizon, as_of): a price forecast with its interval."""

    league: str
    currency: str
    horizon: str = pa.Field(isin=HORIZONS)
    as_of: pl.Date
    price_chaos: float = pa.Field(gt=0)
    forecast_chaos: float = pa.Field(gt=0)
    expected_return: float
    lower_80: float = pa.Field(gt=0)
    upper_80: float = pa.Field(gt=0)

    class Config:
        strict = False
        unique = ("league", "currency", "horizon", "as_of")

    @pa.dataframe_check
    def interval_contains_forecast(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("lower_80") <= pl.col("forecast_chaos"))
            & (pl.col("forecast_chaos") <= pl.col("upper_80"))
        )


class InvestmentReport(pa.DataFrameModel):
    """One row per currency of a league's report: its rank, price, score and share of the budget."""

    rank: int = pa.Field(ge=1, unique=True)
    currency: str = pa.Field(str_length={"min_value": 1}, unique=True)
    price_chaos: float = pa.Field(gt=0)
    price_divine: float = pa.Field(gt=0, nullable=True)
    weight: float = pa.Field(ge=0, le=1)
    allocation_chaos: float = pa.Field(ge=0)

    class Config:
        strict = False  # one return/P(gain)/downside column per horizon forecast so far
        coerce = True  # any integer width for rank

    @pa.dataframe_check
    def weights_never_exceed_the_budget(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("weight").sum() <= 1 + 1e-9)
