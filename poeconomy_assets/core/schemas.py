"""pandera schemas, one per table the graph stores. They are the contracts between modules.

Column conventions used across the project:
- ``league``/``currency`` hold real names (not partition keys); ``date`` is a calendar day (UTC).
- Prices are chaos-denominated (``*_chaos``); ``price_divine`` converts with the Divine Orb's
  own price on the same league and day (null when that day has no Divine Orb price).
"""

import pandera.polars as pa
import polars as pl

CONFIDENCE_WORDS = ("High", "Medium", "Low")
HORIZONS = ("1d", "3d", "7d")
HORIZON_DAYS = {"1d": 1, "3d": 3, "7d": 7}


class DailyPrices(pa.DataFrameModel):
    """One row per (league, currency, date): the daily chaos price of one currency."""

    league: str = pa.Field(str_length={"min_value": 1})
    currency: str = pa.Field(str_length={"min_value": 1})
    date: pl.Date
    league_day: int = pa.Field(ge=0)
    price_chaos: float = pa.Field(gt=0)
    price_divine: float = pa.Field(gt=0, nullable=True)
    confidence: str = pa.Field(isin=CONFIDENCE_WORDS)
    source: str = pa.Field(isin=("poe.ninja", "poe.watch", "simulator"))

    class Config:
        strict = False  # live prices add open/high/low/n_snapshots/volume columns
        unique = ["league", "currency", "date"]


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
        unique = ["league", "currency", "horizon", "as_of"]

    @pa.dataframe_check
    def interval_contains_forecast(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("lower_80") <= pl.col("forecast_chaos")) & (pl.col("forecast_chaos") <= pl.col("upper_80"))
        )
