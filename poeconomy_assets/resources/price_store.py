"""The price store: live snapshots, their raw payloads, and daily prices, on SQLite or PostgreSQL.

Both implementations (``price_store_sqlite.EmbeddedPriceStore``, ``price_store_postgres.PostgresPriceStore``)
keep one contract, tested against both:
- the schema is created and migrated at first use, idempotently (table ``schema_version``);
- writes are single transactions: a killed run leaves the previous state, never part of a write;
- snapshots are keyed by (league, currency, snapshot_at) and inserted with ON CONFLICT DO NOTHING,
  so re-running a slot, or two runs of one slot at once, store each row exactly once;
- every value reaches SQL as a parameter (a league named ``'; DROP TABLE prices; --`` is a name);
- rows are validated before anything is written; a bad row raises ValueError naming the row and column.
"""

import gzip
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from poeconomy_assets.core.ingest.currency_names import FORBIDDEN_IN_NAMES, MAX_NAME_LENGTH

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


@dataclass(frozen=True)
class RawPayload:
    """A raw API response to archive with the rows parsed from it."""

    league: str
    category: str
    fetched_at: datetime
    body: bytes


@dataclass(frozen=True)
class PayloadRecord:
    """An archived raw API response: its sha256, and whether it equals the previous one."""

    hash: str
    unchanged: bool  # same hash as the latest payload archived for this (league, category)
    payload_id: int


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def compress(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6)


def as_utc(value: datetime, name: str) -> datetime:
    """``value`` in UTC; a naive datetime is refused rather than guessed (local time? UTC?)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} = {value!r} is naive; pass a timezone-aware datetime (UTC)")
    return value.astimezone(UTC)


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
        _first_bad(indexed, pl.col(column).str.len_chars() > MAX_NAME_LENGTH, column,
                   f"is longer than {MAX_NAME_LENGTH} characters")
        _first_bad(indexed, pl.col(column).str.contains(FORBIDDEN_IN_NAMES.pattern), column,
                   "holds a NUL, control or bidi character")
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


class PriceStore(dg.ConfigurableResource, ABC):
    """Where live snapshots, raw payloads and daily prices are kept."""

    @abstractmethod
    def ensure_schema(self) -> None:
        """Create or migrate the tables (idempotent, safe when several processes start at once)."""

    @abstractmethod
    def schema_version(self) -> int:
        """The migration version the store is at (0 before ``ensure_schema``)."""

    @abstractmethod
    def upsert_snapshots(self, rows: pl.DataFrame, *, before_commit: Callable[[], None] | None = None) -> int:
        """Insert rows whose key is new, in one transaction; returns how many were inserted.

        ``rows`` must have SNAPSHOT_COLUMNS (see ``validate_snapshots``); nothing is written if any row is bad.
        ``before_commit`` runs inside the transaction just before COMMIT (tests kill the process there)."""

    @abstractmethod
    def store_payloads_and_snapshots(
        self, payloads: list[RawPayload], rows: pl.DataFrame, *, before_commit: Callable[[], None] | None = None
    ) -> int:
        """Archive ``payloads`` and insert ``rows`` (as ``upsert_snapshots``) in ONE transaction; returns rows
        inserted. A payload is only ever recorded as processed together with its rows: if the write fails,
        neither is stored and the next run sees the payload as new."""

    @abstractmethod
    def archive_payload(self, league: str, category: str, fetched_at: datetime, body: bytes) -> PayloadRecord:
        """Keep the raw response (gzip) with its sha256; says whether it equals the previous one."""

    @abstractmethod
    def last_payload_hash(self, league: str, category: str) -> str | None: ...

    @abstractmethod
    def read_snapshots(
        self, league: str, start: datetime | None = None, end: datetime | None = None
    ) -> pl.DataFrame:
        """SNAPSHOT_COLUMNS, ordered by snapshot_at then currency; ``start`` inclusive, ``end`` exclusive."""

    @abstractmethod
    def count_snapshots(self, league: str | None = None) -> int: ...

    @abstractmethod
    def leagues(self) -> list[str]:
        """Leagues with snapshots or daily prices, sorted."""

    @abstractmethod
    def replace_daily_prices(self, league: str, prices: pl.DataFrame) -> int:
        """Replace one league's daily prices (delete + insert, one transaction); returns rows stored."""

    @abstractmethod
    def read_daily_prices(self, league: str) -> pl.DataFrame: ...


def snapshot_records(rows: pl.DataFrame) -> list[tuple]:
    """Rows as tuples in SNAPSHOT_COLUMNS order, ready for parameterized SQL."""
    return rows.select(list(SNAPSHOT_COLUMNS)).rows()


def daily_records(league: str, prices: pl.DataFrame) -> list[tuple]:
    missing = [c for c in DAILY_COLUMNS if c not in prices.columns]
    if missing:
        raise ValueError(f"daily prices lack column(s) {missing}")
    others = prices.filter(pl.col("league") != league)
    if others.height:
        raise ValueError(f"daily prices for {league!r} contain rows of league {others['league'][0]!r}")
    return prices.select([pl.col(c).cast(t) for c, t in DAILY_COLUMNS.items()]).rows()
