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
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from poeconomy_assets.core.ingest import (  # noqa: F401 (re-exported: the store's contract)
    MAX_NAME_LENGTH,
    NOT_EMPTY,
    NOT_NULL,
    SNAPSHOT_KEY,
    RawPayload,
    name_problem,
    payload_hash,
    printable,
    validate_snapshots,
)
from poeconomy_assets.core.schemas import DAILY_COLUMNS, SNAPSHOT_COLUMNS


@dataclass(frozen=True)
class PayloadRecord:
    """An archived raw API response: its sha256, and whether it equals the previous one."""

    hash: str
    unchanged: bool  # same hash as the latest payload archived for this (league, category)
    payload_id: int


def compress(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6)


def as_utc(value: datetime, name: str) -> datetime:
    """``value`` in UTC; a naive datetime is refused rather than guessed (local time? UTC?)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} = {value!r} is naive; pass a timezone-aware datetime (UTC)")
    return value.astimezone(UTC)


# The reads both stores share, in neutral SQL: tables as {snapshots}, {payloads}, {daily_prices}, parameters as ?.
# Each store writes them in its own dialect (``_dialect``) and runs them (``_fetch``).
LAST_PAYLOAD_HASH = (
    "SELECT content_hash FROM {payloads} WHERE league = ? AND category = ? ORDER BY payload_id DESC LIMIT 1"
)
TABLES = ("snapshots", "payloads", "daily_prices")


class PriceStore(dg.ConfigurableResource, ABC):
    """Where live snapshots, raw payloads and daily prices are kept."""

    @abstractmethod
    def _fetch(self, statement: str, params: Sequence[object] = ()) -> list[tuple]:
        """Run one read (neutral SQL, see LAST_PAYLOAD_HASH) and return its rows."""

    @abstractmethod
    def _timestamp(self, value: datetime, name: str) -> object:
        """A timezone-aware datetime as this store compares it; ValueError naming ``name`` when naive."""

    @abstractmethod
    def _frame(self, rows: list[tuple], columns: dict[str, pl.DataType]) -> pl.DataFrame:
        """Rows read in ``columns`` order as a frame of their polars types."""

    @abstractmethod
    def ensure_schema(self) -> None:
        """Create or migrate the tables (idempotent, safe when several processes start at once)."""

    @abstractmethod
    def schema_version(self) -> int:
        """The migration version the store is at (0 before ``ensure_schema``)."""

    def upsert_snapshots(self, rows: pl.DataFrame, *, before_commit: Callable[[], None] | None = None) -> int:
        """Insert rows whose key is new, in one transaction; returns how many were inserted.

        ``rows`` must have SNAPSHOT_COLUMNS (see ``validate_snapshots``); nothing is written if any row is bad.
        ``before_commit`` runs inside the transaction just before COMMIT (tests kill the process there)."""
        rows = validate_snapshots(rows)
        self.ensure_schema()
        return self._insert_snapshots(rows, before_commit)

    def store_payloads_and_snapshots(
        self,
        payloads: list[RawPayload],
        rows: pl.DataFrame,
        *,
        before_commit: Callable[[], None] | None = None,
    ) -> int:
        """Archive ``payloads`` and insert ``rows`` (as ``upsert_snapshots``) in ONE transaction; returns rows
        inserted. A payload is only ever recorded as processed together with its rows: if the write fails,
        neither is stored and the next run sees the payload as new."""
        rows = validate_snapshots(rows)
        for payload in payloads:
            validate_payload_key(payload.league, payload.category)
        self.ensure_schema()
        prepared = [
            (
                p.league,
                p.category,
                self._timestamp(p.fetched_at, "fetched_at"),
                payload_hash(p.body),
                compress(p.body),
            )
            for p in payloads
        ]
        return self._insert_snapshots(rows, before_commit, prepared)

    @abstractmethod
    def _insert_snapshots(
        self, rows: pl.DataFrame, before_commit: Callable[[], None] | None, payloads: Sequence[tuple] = ()
    ) -> int:
        """``upsert_snapshots`` on validated rows, the schema in place; in the same transaction, first insert
        ``payloads`` (league, category, fetched_at, sha256, gzip body) into the payload archive."""

    def archive_payload(self, league: str, category: str, fetched_at: datetime, body: bytes) -> PayloadRecord:
        """Keep the raw response (gzip) with its sha256; says whether it equals the previous one.

        ``league`` and ``category`` are checked first (ValueError naming the field), as snapshot rows are: a NUL or a
        1M-character league never reaches the database (PostgreSQL answered with raw errors)."""
        validate_payload_key(league, category)
        self.ensure_schema()
        digest = payload_hash(body)
        previous, payload_id = self._insert_payload(
            league, category, self._timestamp(fetched_at, "fetched_at"), digest, compress(body)
        )
        return PayloadRecord(hash=digest, unchanged=previous == digest, payload_id=payload_id)

    @abstractmethod
    def _insert_payload(
        self, league: str, category: str, fetched_at: object, digest: str, body_gzip: bytes
    ) -> tuple[str | None, int]:
        """In one transaction: the latest hash of (league, category) (LAST_PAYLOAD_HASH), then the new row;
        returns that hash and the new row's id. Two archivers of one pair take turns, so each sees the other's."""

    def last_payload_hash(self, league: str, category: str) -> str | None:
        self.ensure_schema()
        rows = self._fetch(LAST_PAYLOAD_HASH, (league, category))
        return rows[0][0] if rows else None

    def read_snapshots(
        self, league: str, start: datetime | None = None, end: datetime | None = None
    ) -> pl.DataFrame:
        """SNAPSHOT_COLUMNS, ordered by snapshot_at then currency; ``start`` inclusive, ``end`` exclusive."""
        self.ensure_schema()
        statement, params = (
            f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM {{snapshots}} WHERE league = ?",
            [league],
        )
        if start is not None:
            statement, params = (
                statement + " AND snapshot_at >= ?",
                [*params, self._timestamp(start, "start")],
            )
        if end is not None:
            statement, params = statement + " AND snapshot_at < ?", [*params, self._timestamp(end, "end")]
        return self._frame(
            self._fetch(statement + " ORDER BY snapshot_at, currency", params), SNAPSHOT_COLUMNS
        )

    def count_snapshots(self, league: str | None = None) -> int:
        self.ensure_schema()
        if league is None:
            return self._fetch("SELECT COUNT(*) FROM {snapshots}")[0][0]
        return self._fetch("SELECT COUNT(*) FROM {snapshots} WHERE league = ?", (league,))[0][0]

    def leagues(self) -> list[str]:
        """Leagues with snapshots or daily prices, sorted."""
        self.ensure_schema()
        rows = self._fetch(
            "SELECT league FROM {snapshots} UNION SELECT league FROM {daily_prices} ORDER BY league"
        )
        return [r[0] for r in rows]

    def replace_daily_prices(self, league: str, prices: pl.DataFrame) -> int:
        """Replace one league's daily prices (delete + insert, one transaction); returns rows stored."""
        records = daily_records(league, prices)
        self.ensure_schema()
        self._replace_daily(league, records)
        return len(records)

    @abstractmethod
    def _replace_daily(self, league: str, records: list[tuple]) -> None:
        """Delete the league's rows and insert ``records`` (DAILY_COLUMNS order), in one transaction."""

    def read_daily_prices(self, league: str) -> pl.DataFrame:
        self.ensure_schema()
        statement = f"SELECT {', '.join(DAILY_COLUMNS)} FROM {{daily_prices}} WHERE league = ? ORDER BY currency, date"
        return self._frame(self._fetch(statement, (league,)), DAILY_COLUMNS)


def validate_payload_key(league: object, category: object) -> None:
    """Raise ValueError naming the field when a payload's league or category could not be stored as a name."""
    for field_name, value in (("league", league), ("category", category)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"payload {field_name} = {printable(str(value), 60)} is empty or not text")
        problem = name_problem(value)
        if problem:
            what = (
                f"is longer than {MAX_NAME_LENGTH} characters"
                if problem == "name_too_long"
                else "holds a NUL, control, bidi or lone surrogate character"
            )
            raise ValueError(
                f"payload {field_name} = {printable(value, 60)} {what} ({len(value)} characters); "
                "refused before the database"
            )


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
