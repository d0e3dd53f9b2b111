"""Metadata that reads well in the Dagster UI (1.13): rounded numbers, and tables that show inline.

Dagster 1.13 has no image metadata value, and the UI collapses a markdown value of 1,000 characters or more
behind "[Show Markdown]" (so a PNG chart, base64 in markdown, always needs that click). A table value
(``MetadataValue.table``) is drawn inline, so the figures that matter are also given as tables, and a
forecast fan as a table with a text band per horizon.
"""

import math

import dagster as dg
import polars as pl

from poeconomy_assets.core.report import price_text

BAND_WIDTH = 24


def number(value: float | None, digits: int = 4) -> float | dg.MetadataValue:
    """A float rounded to ``digits`` significant digits (null when unknown or not finite)."""
    if value is None or not math.isfinite(float(value)):
        return dg.MetadataValue.null()
    value = float(value)
    if value == 0:
        return 0.0
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _type(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if dtype == pl.Boolean:
        return "bool"
    return "string"


def table_value(frame: pl.DataFrame, max_rows: int = 25, digits: int = 4) -> dg.MetadataValue:
    """``frame`` (its first ``max_rows`` rows) as an inline table, floats rounded, dates as text."""
    shown = frame.head(max_rows)
    schema = dg.TableSchema(columns=[dg.TableColumn(name=c, type=_type(t)) for c, t in shown.schema.items()])
    records = []
    for row in shown.iter_rows(named=True):
        data = {}
        for key, value in row.items():
            if isinstance(value, float):
                rounded = number(value, digits)
                data[key] = rounded if isinstance(rounded, float) else None
            elif value is None or isinstance(value, int | str | bool):
                data[key] = value
            else:
                data[key] = str(value)
        records.append(dg.TableRecord(data=data))
    return dg.MetadataValue.table(records=records, schema=schema)


def text_band(
    low95: float,
    low80: float,
    median: float,
    high80: float,
    high95: float,
    price: float,
    lo: float,
    hi: float,
    width: int = BAND_WIDTH,
) -> str:
    """A one-line fan on a shared log scale: ``-`` the 95% band, ``=`` the 80% band, ``|`` the median, ``^``
    today's price."""

    def at(value: float) -> int:
        span = math.log(hi) - math.log(lo) or 1.0
        return min(width - 1, max(0, round((math.log(value) - math.log(lo)) / span * (width - 1))))

    cells = ["·"] * width
    for i in range(at(low95), at(high95) + 1):
        cells[i] = "-"
    for i in range(at(low80), at(high80) + 1):
        cells[i] = "="
    cells[at(median)] = "|"
    cells[at(price)] = "^"
    return "".join(cells)


def fan_table(rows: pl.DataFrame) -> dg.MetadataValue:
    """Forecast rows (one per horizon or date) as an inline table with a text fan each."""
    if rows.is_empty():
        return table_value(rows)
    lo = float(min(rows["lower_95"].min(), rows["price_chaos"].min()))
    hi = float(max(rows["upper_95"].max(), rows["price_chaos"].max()))
    label = "horizon" if rows["horizon"].n_unique() > 1 else "as_of"
    out = rows.select(
        pl.col(label).cast(pl.Utf8),
        pl.col("price_chaos").map_elements(price_text, return_dtype=pl.Utf8).alias("price"),
        pl.col("forecast_chaos").map_elements(price_text, return_dtype=pl.Utf8).alias("median"),
        pl.format(
            "{} – {}",
            pl.col("lower_80").map_elements(price_text, return_dtype=pl.Utf8),
            pl.col("upper_80").map_elements(price_text, return_dtype=pl.Utf8),
        ).alias("80% range"),
        pl.format(
            "{} – {}",
            pl.col("lower_95").map_elements(price_text, return_dtype=pl.Utf8),
            pl.col("upper_95").map_elements(price_text, return_dtype=pl.Utf8),
        ).alias("95% range"),
        (pl.col("prob_up") * 100).round(0).alias("P(up) %"),
    ).with_columns(
        pl.Series(
            "fan (^ price, | median, = 80%, - 95%)",
            [
                text_band(
                    r["lower_95"],
                    r["lower_80"],
                    r["forecast_chaos"],
                    r["upper_80"],
                    r["upper_95"],
                    r["price_chaos"],
                    lo,
                    hi,
                )
                for r in rows.iter_rows(named=True)
            ],
        )
    )
    return table_value(out, max_rows=30)
