"""Read poe.ninja currency dumps (``{League}.currency.csv``) into daily chaos prices, both sides of the market.

A row with ``Pay`` = Chaos Orb is the sell side: ``Value`` chaos buys one ``Get`` (the price,
``price_chaos``). A row with ``Get`` = Chaos Orb is the buy side: one chaos buys ``Value`` units of
``Pay``, so that side's chaos price is ``1 / Value`` (``buy_price_chaos``). Each (league, currency,
day) row carries both when both exist, their log ratio (``log_spread`` = log(sell / buy), the day's
bid/ask spread) and each side's Confidence. A day with only a buy side has no price: it is counted
(``buy_only_rows``), not invented.

Bad input never disappears silently: a malformed *file* (wrong delimiter or header, empty, mixed
leagues) raises :class:`DumpError` naming file and line; a malformed *row* is quarantined with its
file, line, field, value and reason (or raises, with ``strict=True``).
"""

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from poeconomy_assets.core.ingest.currency_names import FORBIDDEN_IN_NAMES, MAX_NAME_LENGTH
from poeconomy_assets.core.ingest.league_dates import MAX_DAYS_FROM_MEDIAN, far_reason, median_day
from poeconomy_assets.core.prices import add_divine_prices, add_league_day, league_order
from poeconomy_assets.core.schemas import DAILY_COLUMNS, MARKET_SIDE_COLUMNS

HEADER = ["League", "Date", "Get", "Pay", "Value", "Confidence"]
CHAOS = "Chaos Orb"
CONFIDENCE = {"high": "High", "medium": "Medium", "low": "Low"}
# Columns of an imported league, before league_day and price_divine are added (see read_dump_dir).
PRICE_COLUMNS = [
    "league",
    "currency",
    "date",
    "price_chaos",
    "confidence",
    "buy_price_chaos",
    "buy_confidence",
    "log_spread",
    "source",
]
# A Value outside these is no price (1e300 overflows sums and exp; 1e-320 is a subnormal whose inverse, the
# buy-side price, is infinite). 18 real leagues range from 1e-5 to 1.5e7: three orders of magnitude of margin.
MIN_VALUE = 1e-8
MAX_VALUE = 1e10
QUARANTINE_SCHEMA = {"file": pl.Utf8, "line": pl.Int64, "field": pl.Utf8, "value": pl.Utf8, "reason": pl.Utf8}


class DumpError(ValueError):
    """A dump file that cannot be read; the message names file, line and field."""


@dataclass(frozen=True)
class DumpImport:
    """What an import produced: prices, the rows it could not use, and why."""

    prices: pl.DataFrame
    quarantine: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=QUARANTINE_SCHEMA))
    skipped_not_chaos: int = 0  # rows with Chaos Orb on neither side
    buy_only_rows: int = 0  # buy-side rows of a day without a sell-side price (no price_chaos to attach to)
    files: list[str] = field(default_factory=list)

    @property
    def leagues(self) -> list[str]:
        """League names, oldest first."""
        return [] if self.prices.is_empty() else league_order(self.prices)

    @property
    def currencies(self) -> list[str]:
        return sorted(self.prices["currency"].unique().to_list())


def _quarantine(
    rows: pl.DataFrame, file: str, field_name: str | pl.Expr, value: pl.Expr, reason: str | pl.Expr
) -> pl.DataFrame:
    return rows.select(
        pl.lit(file).alias("file"),
        pl.col("line"),
        (field_name if isinstance(field_name, pl.Expr) else pl.lit(field_name)).alias("field"),
        value.cast(pl.Utf8).fill_null("").alias("value"),
        (reason if isinstance(reason, pl.Expr) else pl.lit(reason)).alias("reason"),
    )


def _read_raw(path: Path) -> pl.DataFrame:
    name = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DumpError(f"{name} line 1: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    lines = _physical_lines(text)
    if not lines or not lines[0].strip():
        raise DumpError(f"{name} line 1: empty file (expected header {';'.join(HEADER)!r})")
    if "\r" in lines[0]:
        raise DumpError(
            f"{name} line 1: lines end in a carriage return only (CR, classic Mac OS line ends), so "
            "the whole file reads as one line; save it with LF or CRLF line ends"
        )
    header = lines[0].strip()
    if header.split(";") != HEADER:
        hint = " (wrong delimiter? fields must be separated by ';')" if ";" not in header else ""
        raise DumpError(f"{name} line 1: header is {header!r} but expected {';'.join(HEADER)!r}{hint}")
    body = [line for line in lines[1:]]
    if not any(line.strip() for line in body):
        raise DumpError(
            f"{name} line 2: no data rows after the header (an empty or cut-short export?); a league "
            "file must hold at least one price"
        )
    raw = pl.DataFrame({"text": body}, schema={"text": pl.Utf8}).with_row_index("line", offset=2)
    raw = raw.with_columns(pl.col("line").cast(pl.Int64)).filter(pl.col("text").str.strip_chars() != "")
    parts = pl.col("text").str.split(";")
    return raw.with_columns(
        parts.list.len().alias("n_fields"),
        *[parts.list.get(i, null_on_oob=True).str.strip_chars().alias(c) for i, c in enumerate(HEADER)],
    )


def read_dump_file(path: Path, *, strict: bool = False) -> DumpImport:
    """Import one ``{League}.currency.csv``: chaos prices of every currency on every day, both sides."""
    path = Path(path)
    name = path.name
    raw = _read_raw(path)
    problems: list[pl.DataFrame] = []

    wrong_width = raw.filter(pl.col("n_fields") != len(HEADER))
    problems.append(
        _quarantine(
            wrong_width, name, "row", pl.col("text"), pl.format("{} fields, expected 6", pl.col("n_fields"))
        )
    )
    rows = raw.filter(pl.col("n_fields") == len(HEADER))
    rows, empty_league = _without_empty_league(rows, name)
    problems.append(empty_league)

    leagues = rows["League"].unique().drop_nulls().to_list()
    if len(leagues) > 1:
        first_other = rows.filter(pl.col("League") != rows["League"][0]).row(0, named=True)
        raise DumpError(
            f"{name} line {first_other['line']}: field League is {first_other['League']!r} but earlier rows say "
            f"{rows['League'][0]!r}; one file must hold one league"
        )

    sell = pl.col("Pay") == CHAOS
    buy = (pl.col("Get") == CHAOS) & ~sell
    not_chaos = rows.filter(~(sell | buy).fill_null(False))
    # Both sides in one shape: the item (Get on the sell side, Pay on the buy side), the side, its Value.
    rows = rows.filter((sell | buy).fill_null(False)).with_columns(
        pl.when(sell).then(pl.lit("sell")).otherwise(pl.lit("buy")).alias("side"),
        pl.when(sell).then(pl.col("Get")).otherwise(pl.col("Pay")).alias("item"),
        pl.when(sell).then(pl.lit("Get")).otherwise(pl.lit("Pay")).alias("item_field"),
        pl.col("Value").cast(pl.Float64, strict=False).alias("value"),
        pl.col("Date").str.to_date("%Y-%m-%d", strict=False).alias("date"),
        pl.col("Confidence").str.to_lowercase().replace_strict(CONFIDENCE, default=None).alias("confidence"),
    )
    # The item's own field is Get on the sell side and Pay on the buy side.
    checks: list[tuple[pl.Expr, str | pl.Expr, pl.Expr, str | pl.Expr]] = [
        (
            (pl.col("item").is_null()) | (pl.col("item") == ""),
            pl.col("item_field"),
            pl.col("item"),
            "empty currency name",
        ),
        (pl.col("date").is_null(), "Date", pl.col("Date"), "unparseable date (expected YYYY-MM-DD)"),
        (pl.col("value").is_null(), "Value", pl.col("Value"), "not a number"),
        (
            pl.col("value").is_nan() | pl.col("value").is_infinite(),
            "Value",
            pl.col("Value"),
            "not a finite number",
        ),
        (pl.col("value") <= 0, "Value", pl.col("Value"), "zero or negative price"),
        (
            (pl.col("value") < MIN_VALUE) | (pl.col("value") > MAX_VALUE),
            "Value",
            pl.col("Value"),
            f"implausible price (outside [{MIN_VALUE:g}, {MAX_VALUE:g}])",
        ),
        (
            pl.col("confidence").is_null(),
            "Confidence",
            pl.col("Confidence"),
            "unknown confidence word (expected High, Medium or Low)",
        ),
    ]
    checks += _name_checks()
    bad = pl.lit(False)
    for condition, field_name, value, reason in checks:
        hit = condition.fill_null(False) & ~bad
        problems.append(_quarantine(rows.filter(hit), name, field_name, value, reason))
        bad = bad | condition.fill_null(False)
    rows = rows.filter(~bad)
    rows, far = _without_far_dates(rows, name)
    problems.append(far)

    first_line = pl.col("line").min().over("League", "side", "item", "date")
    duplicates = rows.with_columns(first_line.alias("first")).filter(pl.col("line") != pl.col("first"))
    problems.append(
        _quarantine(
            duplicates,
            name,
            pl.format("League/Date/{}", "item_field"),
            pl.format("{}/{}/{}", "League", "Date", "item"),
            pl.format("duplicate of line {}", pl.col("first")),
        )
    )
    rows = rows.filter(pl.col("line") == first_line)

    quarantine = pl.concat(problems).sort("line")
    if strict and quarantine.height:
        first = quarantine.row(0, named=True)
        raise DumpError(
            f"{name} line {first['line']}: field {first['field']} = {first['value']!r}: {first['reason']}"
        )

    sells = rows.filter(pl.col("side") == "sell").select(
        pl.col("League").alias("league"),
        pl.col("item").alias("currency"),
        "date",
        pl.col("value").alias("price_chaos"),
        "confidence",
    )
    buys = rows.filter(pl.col("side") == "buy").select(
        pl.col("League").alias("league"),
        pl.col("item").alias("currency"),
        "date",
        (1.0 / pl.col("value")).alias("buy_price_chaos"),
        pl.col("confidence").alias("buy_confidence"),
    )
    prices = sells.join(buys, on=["league", "currency", "date"], how="left").with_columns(
        (pl.col("price_chaos") / pl.col("buy_price_chaos")).log().alias("log_spread"),
        pl.lit("poe.ninja").alias("source"),
    )
    buy_only = buys.join(sells, on=["league", "currency", "date"], how="anti").height
    return DumpImport(
        prices=prices.select(*PRICE_COLUMNS),
        quarantine=quarantine,
        skipped_not_chaos=not_chaos.height,
        buy_only_rows=buy_only,
        files=[name],
    )


def read_dump_dir(directory: Path, *, strict: bool = False) -> DumpImport:
    """Import every ``*.currency.csv`` of a directory (one league per file)."""
    directory = Path(directory)
    files = sorted(directory.glob("*.currency.csv"))
    if not files:
        raise DumpError(f"no *.currency.csv files in {directory}")
    parts = [read_dump_file(f, strict=strict) for f in files]
    _require_one_file_per_league(parts)
    prices = pl.concat([p.prices for p in parts])
    seen = prices.group_by("league").agg(pl.len())
    if prices.select("league", "currency", "date").is_duplicated().any():
        clash = prices.filter(prices.select("league", "currency", "date").is_duplicated()).row(0, named=True)
        raise DumpError(
            f"league {clash['league']!r} appears in more than one file of {directory} ({seen.height} leagues)"
        )
    prices = add_divine_prices(add_league_day(prices)).select(*DAILY_COLUMNS, *MARKET_SIDE_COLUMNS)
    return DumpImport(
        prices=prices.sort("league", "currency", "date"),
        quarantine=pl.concat([p.quarantine for p in parts]),
        skipped_not_chaos=sum(p.skipped_not_chaos for p in parts),
        buy_only_rows=sum(p.buy_only_rows for p in parts),
        files=[f.name for f in files],
    )


def _physical_lines(text: str) -> list[str]:
    """Lines split at ``\n`` only (``\r\n`` too): ``str.splitlines`` also splits at U+2028, U+0085, form
    feeds and other characters a name may hold, which would shift every later line number."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _without_empty_league(rows: pl.DataFrame, file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows with a League, the others quarantined as "empty league name" with file and line)."""
    empty = pl.col("League").is_null() | (pl.col("League") == "")
    return rows.filter(~empty), _quarantine(
        rows.filter(empty), file, "League", pl.col("League"), "empty league name"
    )


def _name_checks() -> list[tuple[pl.Expr, str, pl.Expr, str]]:
    """Quarantine checks on names: control/bidi characters (NUL, RLO, zero-width, ...) and absurd lengths."""
    checks = []
    for column in ("Get", "League"):
        checks.append(
            (
                pl.col(column).str.contains(FORBIDDEN_IN_NAMES.pattern),
                column,
                pl.col(column),
                "control or bidi character in the name",
            )
        )
        # Raw, and after NFC (what is stored: clean_name normalises; "\ufb2c" * 34 is 102 characters after it).
        too_long = (pl.col(column).str.len_chars() > MAX_NAME_LENGTH) | (
            pl.col(column).str.normalize("NFC").str.len_chars() > MAX_NAME_LENGTH
        )
        checks.append(
            (
                too_long,
                column,
                pl.col(column).str.slice(0, 60),
                f"name longer than {MAX_NAME_LENGTH} characters",
            )
        )
    return checks


def _without_far_dates(rows: pl.DataFrame, file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows, rows dated more than MAX_DAYS_FROM_MEDIAN days from the league's median date, quarantined)."""
    if rows.is_empty():
        return rows, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    median = median_day(
        rows["date"].to_list()
    )  # the rule live history follows too (core.ingest.league_dates)
    far = (pl.col("date") - pl.lit(median)).dt.total_days().abs() > MAX_DAYS_FROM_MEDIAN
    reason = far_reason(median)
    return rows.filter(~far), _quarantine(rows.filter(far), file, "Date", pl.col("Date"), reason)


def _require_one_file_per_league(parts: list[DumpImport]) -> None:
    """A league whose rows come from two files is refused, naming both (which one is right is not ours to guess)."""
    seen: dict[str, str] = {}
    for part in parts:
        for league in part.prices["league"].unique().to_list():
            if league in seen:
                raise DumpError(
                    f"league {league!r} is split across two files, {seen[league]} and {part.files[0]}; "
                    "one league must come from one file"
                )
            seen[league] = part.files[0]


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
