"""Read poe.ninja currency dumps (``{League}.currency.csv``) into daily chaos prices.

Bad input never disappears silently: a malformed *file* (wrong delimiter or header, empty, mixed
leagues) raises :class:`DumpError` naming file and line; a malformed *row* is quarantined with its
file, line, field, value and reason (or raises, with ``strict=True``).
"""

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from poeconomy_assets.core.prices import add_divine_prices, add_league_day, league_order
from poeconomy_assets.core.schemas import DAILY_COLUMNS

HEADER = ["League", "Date", "Get", "Pay", "Value", "Confidence"]
CHAOS = "Chaos Orb"
CONFIDENCE = {"high": "High", "medium": "Medium", "low": "Low"}
QUARANTINE_SCHEMA = {"file": pl.Utf8, "line": pl.Int64, "field": pl.Utf8, "value": pl.Utf8, "reason": pl.Utf8}


class DumpError(ValueError):
    """A dump file that cannot be read; the message names file, line and field."""


@dataclass(frozen=True)
class DumpImport:
    """What an import produced: prices, the rows it could not use, and why."""

    prices: pl.DataFrame
    quarantine: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=QUARANTINE_SCHEMA))
    skipped_not_chaos: int = 0
    files: list[str] = field(default_factory=list)

    @property
    def leagues(self) -> list[str]:
        """League names, oldest first."""
        return [] if self.prices.is_empty() else league_order(self.prices)

    @property
    def currencies(self) -> list[str]:
        return sorted(self.prices["currency"].unique().to_list())


def _quarantine(rows: pl.DataFrame, file: str, field_name: str, value: pl.Expr, reason: str | pl.Expr) -> pl.DataFrame:
    return rows.select(
        pl.lit(file).alias("file"),
        pl.col("line"),
        pl.lit(field_name).alias("field"),
        value.cast(pl.Utf8).fill_null("").alias("value"),
        (reason if isinstance(reason, pl.Expr) else pl.lit(reason)).alias("reason"),
    )


def _read_raw(path: Path) -> pl.DataFrame:
    name = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DumpError(f"{name} line 1: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise DumpError(f"{name} line 1: empty file (expected header {';'.join(HEADER)!r})")
    header = lines[0].strip()
    if header.split(";") != HEADER:
        hint = " (wrong delimiter? fields must be separated by ';')" if ";" not in header else ""
        raise DumpError(f"{name} line 1: header is {header!r} but expected {';'.join(HEADER)!r}{hint}")
    body = [line for line in lines[1:]]
    raw = pl.DataFrame({"text": body}, schema={"text": pl.Utf8}).with_row_index("line", offset=2)
    raw = raw.with_columns(pl.col("line").cast(pl.Int64)).filter(pl.col("text").str.strip_chars() != "")
    parts = pl.col("text").str.split(";")
    return raw.with_columns(parts.list.len().alias("n_fields"), *[parts.list.get(i, null_on_oob=True).str.strip_chars().alias(c) for i, c in enumerate(HEADER)])


def read_dump_file(path: Path, *, strict: bool = False) -> DumpImport:
    """Import one ``{League}.currency.csv``: chaos prices of every currency on every day."""
    path = Path(path)
    name = path.name
    raw = _read_raw(path)
    problems: list[pl.DataFrame] = []

    wrong_width = raw.filter(pl.col("n_fields") != len(HEADER))
    problems.append(
        _quarantine(wrong_width, name, "row", pl.col("text"), pl.format("{} fields, expected 6", pl.col("n_fields")))
    )
    rows = raw.filter(pl.col("n_fields") == len(HEADER))

    leagues = rows["League"].unique().drop_nulls().to_list()
    if len(leagues) > 1:
        first_other = rows.filter(pl.col("League") != rows["League"][0]).row(0, named=True)
        raise DumpError(
            f"{name} line {first_other['line']}: field League is {first_other['League']!r} but earlier rows say "
            f"{rows['League'][0]!r}; one file must hold one league"
        )

    not_chaos = rows.filter(pl.col("Pay") != CHAOS)
    rows = rows.filter(pl.col("Pay") == CHAOS)

    rows = rows.with_columns(
        pl.col("Value").cast(pl.Float64, strict=False).alias("price_chaos"),
        pl.col("Date").str.to_date("%Y-%m-%d", strict=False).alias("date"),
        pl.col("Confidence").str.to_lowercase().replace_strict(CONFIDENCE, default=None).alias("confidence"),
    )
    checks: list[tuple[pl.Expr, str, pl.Expr, str | pl.Expr]] = [
        ((pl.col("Get").is_null()) | (pl.col("Get") == ""), "Get", pl.col("Get"), "empty currency name"),
        (pl.col("date").is_null(), "Date", pl.col("Date"), "unparseable date (expected YYYY-MM-DD)"),
        (pl.col("price_chaos").is_null(), "Value", pl.col("Value"), "not a number"),
        (pl.col("price_chaos").is_nan() | pl.col("price_chaos").is_infinite(), "Value", pl.col("Value"), "not a finite number"),
        (pl.col("price_chaos") <= 0, "Value", pl.col("Value"), "zero or negative price"),
        (pl.col("confidence").is_null(), "Confidence", pl.col("Confidence"), "unknown confidence word (expected High, Medium or Low)"),
    ]
    bad = pl.lit(False)
    for condition, field_name, value, reason in checks:
        hit = condition.fill_null(False) & ~bad
        problems.append(_quarantine(rows.filter(hit), name, field_name, value, reason))
        bad = bad | condition.fill_null(False)
    rows = rows.filter(~bad)

    first_line = pl.col("line").min().over("League", "Get", "date")
    duplicates = rows.with_columns(first_line.alias("first")).filter(pl.col("line") != pl.col("first"))
    problems.append(
        _quarantine(
            duplicates,
            name,
            "League/Date/Get",
            pl.format("{}/{}/{}", "League", "Date", "Get"),
            pl.format("duplicate of line {}", pl.col("first")),
        )
    )
    rows = rows.filter(pl.col("line") == first_line)

    quarantine = pl.concat(problems).sort("line")
    if strict and quarantine.height:
        first = quarantine.row(0, named=True)
        raise DumpError(f"{name} line {first['line']}: field {first['field']} = {first['value']!r}: {first['reason']}")

    prices = rows.select(
        pl.col("League").alias("league"),
        pl.col("Get").alias("currency"),
        "date",
        "price_chaos",
        "confidence",
        pl.lit("poe.ninja").alias("source"),
    )
    return DumpImport(prices=prices, quarantine=quarantine, skipped_not_chaos=not_chaos.height, files=[name])


def read_dump_dir(directory: Path, *, strict: bool = False) -> DumpImport:
    """Import every ``*.currency.csv`` of a directory (one league per file)."""
    directory = Path(directory)
    files = sorted(directory.glob("*.currency.csv"))
    if not files:
        raise DumpError(f"no *.currency.csv files in {directory}")
    parts = [read_dump_file(f, strict=strict) for f in files]
    prices = pl.concat([p.prices for p in parts])
    seen = prices.group_by("league").agg(pl.len())
    if prices.select("league", "currency", "date").is_duplicated().any():
        clash = prices.filter(prices.select("league", "currency", "date").is_duplicated()).row(0, named=True)
        raise DumpError(f"league {clash['league']!r} appears in more than one file of {directory} ({seen.height} leagues)")
    prices = add_divine_prices(add_league_day(prices)).select(*DAILY_COLUMNS)
    return DumpImport(
        prices=prices.sort("league", "currency", "date"),
        quarantine=pl.concat([p.quarantine for p in parts]),
        skipped_not_chaos=sum(p.skipped_not_chaos for p in parts),
        files=[f.name for f in files],
    )


def league_catalog(prices: pl.DataFrame) -> pl.DataFrame:
    """One row per league, oldest first: first/last date, days, currencies, recency rank (0 = newest)."""
    catalog = (
        prices.group_by("league")
        .agg(
            pl.col("date").min().alias("start_date"),
            pl.col("date").max().alias("end_date"),
            pl.col("date").n_unique().alias("n_days"),
            pl.col("currency").n_unique().alias("n_currencies"),
        )
        .sort("start_date", "league")
    )
    return catalog.with_columns((pl.len() - 1 - pl.int_range(pl.len())).alias("recency_rank"))
