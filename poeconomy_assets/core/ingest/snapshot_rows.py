"""The price store's rules for snapshot rows, in core (no dagster) so the payload parser applies the same ones,
and the raw payloads stored with them.

``resources.price_store`` re-exports them; see its docstring for the store's contract.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from poeconomy_assets.core.ingest.currency_names import FORBIDDEN_IN_NAMES, MAX_NAME_LENGTH
from poeconomy_assets.core.schemas import SNAPSHOT_COLUMNS

SNAPSHOT_KEY = ("league", "currency", "snapshot_at")
NOT_NULL = (
    "league",
    "currency",
    "category",
    "item_id",
    "snapshot_at",
    "mean_chaos",
    "low_confidence",
    "payload_hash",
)
NOT_EMPTY = ("league", "currency", "category")


@dataclass(frozen=True)
class RawPayload:
    """A raw API response to archive with the rows parsed from it."""

    league: str
    category: str
    fetched_at: datetime
    body: bytes


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _dtype_fits(dtype: pl.DataType, target: pl.DataType) -> bool:
    if dtype == pl.Null:
        return True
    if target == pl.Utf8:
        return dtype in (pl.Utf8, pl.Categorical, pl.Enum)
    if target == pl.Int64:
        return dtype.is_integer()  # a float item_id (1.7) would be truncated silently by a cast
    if target == pl.Float64:
        return dtype.is_numeric()
    if target == pl.Datetime:
        return isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    return dtype == target


def _first_bad(indexed: pl.DataFrame, condition: pl.Expr, column: str, problem: str) -> None:
    bad = indexed.filter(condition)
    if bad.height:
        value = bad[column][0]
        if isinstance(value, str) and len(value) > 60:
            value = value[:60] + f"… ({len(value)} characters)"
        shown = f"{column} = {value!r}" if value is not None else column
        raise ValueError(f"snapshot row {bad['row'][0]}: column {shown} {problem} ({bad.height} rows)")


def validate_snapshots(rows: pl.DataFrame) -> pl.DataFrame:
    """The SNAPSHOT_COLUMNS of ``rows`` (extra columns dropped), cast to their types.

    Raises ValueError naming the column (and the first bad row) on: a missing column, a column of the wrong
    type, a naive timestamp, a null or empty key, a price that is not a finite positive number, a negative
    min/max/daily, or one key twice in the batch (which row should win is the caller's decision).
    """
    missing = [c for c in SNAPSHOT_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"snapshot rows lack column(s) {missing}; expected {list(SNAPSHOT_COLUMNS)}")
    for column, target in SNAPSHOT_COLUMNS.items():
        if not _dtype_fits(rows.schema[column], target):
            expected = "a timezone-aware Datetime" if target == pl.Datetime else str(target)
            raise ValueError(f"snapshot column {column} has type {rows.schema[column]}; expected {expected}")
    try:
        rows = rows.select([pl.col(c).cast(t) for c, t in SNAPSHOT_COLUMNS.items()])
    except pl.exceptions.PolarsError as exc:  # e.g. a UInt64 item_id beyond Int64
        raise ValueError(f"snapshot rows do not fit SNAPSHOT_COLUMNS: {exc}") from exc
    indexed = rows.with_row_index("row")
    for column in NOT_NULL:
        _first_bad(indexed, pl.col(column).is_null(), column, "is null")
    for column in NOT_EMPTY:
        _first_bad(indexed, pl.col(column).str.strip_chars() == "", column, "is empty")
        # Refused here, before any database: PostgreSQL rejects NUL with a raw error, SQLite stores it.
        _first_bad(
            indexed,
            pl.col(column).str.len_chars() > MAX_NAME_LENGTH,
            column,
            f"is longer than {MAX_NAME_LENGTH} characters",
        )
        _first_bad(
            indexed,
            pl.col(column).str.contains(FORBIDDEN_IN_NAMES.pattern),
            column,
            "holds a NUL, control or bidi character",
        )
    _first_bad(
        indexed,
        ~(pl.col("mean_chaos").is_finite() & (pl.col("mean_chaos") > 0)),
        "mean_chaos",
        "is not a positive price",
    )
    for column in ("min_chaos", "max_chaos"):
        _first_bad(
            indexed,
            ~(pl.col(column).is_finite() & (pl.col(column) >= 0)),
            column,
            "is not a finite price >= 0",
        )
    _first_bad(indexed, pl.col("daily") < 0, "daily", "is negative")
    duplicated = indexed.filter(pl.struct(SNAPSHOT_KEY).is_duplicated())
    if duplicated.height:
        first = duplicated.row(0, named=True)
        raise ValueError(
            f"snapshot rows {duplicated['row'].head(2).to_list()} share the key "
            f"(league={first['league']!r}, currency={first['currency']!r}, snapshot_at={first['snapshot_at']}); "
            f"deduplicate before upserting ({duplicated.height} rows)"
        )
    return rows
