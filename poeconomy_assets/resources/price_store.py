"""The price store: live snapshots, their raw payloads, and daily prices, on SQLite or PostgreSQL.

Both implementations keep one contract (tested against both):
- writes are single transactions: a killed run leaves the previous state, never part of a write;
- snapshots are keyed by (league, currency, snapshot_at) and inserted with ON CONFLICT DO NOTHING,
  so re-running a slot, or two runs of one slot at once, store each row exactly once;
- every value reaches SQL as a parameter (a league named ``'; DROP TABLE prices; --`` is a name);
- rows are validated before anything is written; a bad row raises naming the row and column.
"""

import gzip
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
import polars as pl

SNAPSHOT_COLUMNS: dict[str, pl.DataType] = {
    "league": pl.Utf8(),
    "currency": pl.Utf8(),
    "category": pl.Utf8(),
    "item_id": pl.Int64(),
    "snapshot_at": pl.Datetime("us", "UTC"),
    "mean_chaos": pl.Float64(),
    "min_chaos": pl.Float64(),
    "max_chaos": pl.Float64(),
    "daily": pl.Int64(),
    "low_confidence": pl.Boolean(),
    "payload_hash": pl.Utf8(),
}
SNAPSHOT_KEY = ("league", "currency", "snapshot_at")
NOT_NULL = ("league", "currency", "category", "snapshot_at", "mean_chaos", "low_confidence", "payload_hash")
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
class PayloadRecord:
    """An archived raw API response: its sha256, and whether it equals the previous one."""

    hash: str
    unchanged: bool
    payload_id: int


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def validate_snapshots(rows: pl.DataFrame) -> pl.DataFrame:
    """Columns cast to SNAPSHOT_COLUMNS; raises ValueError naming the first bad row and column."""
    missing = [c for c in SNAPSHOT_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"snapshot rows lack column(s) {missing}; expected {list(SNAPSHOT_COLUMNS)}")
    try:
        rows = rows.select([pl.col(c).cast(t) for c, t in SNAPSHOT_COLUMNS.items()])
    except pl.exceptions.PolarsError as exc:
        raise ValueError(f"snapshot rows have a column of the wrong type: {exc}") from exc
    indexed = rows.with_row_index("row")
    for column in NOT_NULL:
        bad = indexed.filter(pl.col(column).is_null())
        if bad.height:
            raise ValueError(f"snapshot row {bad['row'][0]}: column {column} is null ({bad.height} rows)")
    bad = indexed.filter(~(pl.col("mean_chaos").is_finite() & (pl.col("mean_chaos") > 0)))
    if bad.height:
        raise ValueError(
            f"snapshot row {bad['row'][0]}: column mean_chaos = {bad['mean_chaos'][0]} is not a positive price "
            f"({bad.height} rows)"
        )
    return rows


class PriceStore(dg.ConfigurableResource, ABC):
    """Where live snapshots, raw payloads and daily prices are kept."""

    @abstractmethod
    def ensure_schema(self) -> None:
        """Create or migrate the tables (idempotent)."""

    @abstractmethod
    def upsert_snapshots(self, rows: pl.DataFrame, *, before_commit: Callable[[], None] | None = None) -> int:
        """Insert rows whose key is new, in one transaction; returns how many were inserted.
        ``before_commit`` runs inside the transaction just before COMMIT (tests kill the process there)."""

    @abstractmethod
    def archive_payload(self, league: str, category: str, fetched_at: datetime, body: bytes) -> PayloadRecord:
        """Keep the raw response (gzip) with its sha256; says whether it equals the previous one."""

    @abstractmethod
    def last_payload_hash(self, league: str, category: str) -> str | None: ...

    @abstractmethod
    def read_snapshots(self, league: str, start: datetime | None = None, end: datetime | None = None) -> pl.DataFrame:
        """SNAPSHOT_COLUMNS, ordered by snapshot_at then currency; ``end`` is exclusive."""

    @abstractmethod
    def count_snapshots(self, league: str | None = None) -> int: ...

    @abstractmethod
    def leagues(self) -> list[str]:
        """Leagues with snapshots or daily prices."""

    @abstractmethod
    def replace_daily_prices(self, league: str, prices: pl.DataFrame) -> int:
        """Replace one league's daily prices (delete + insert, one transaction); returns rows stored."""

    @abstractmethod
    def read_daily_prices(self, league: str) -> pl.DataFrame: ...


def compress(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6)


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
