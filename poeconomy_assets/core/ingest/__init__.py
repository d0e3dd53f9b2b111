"""Reading the sources: poe.ninja dump files, POE Watch payloads (a table of row rules), currency-name identity,
which leagues to follow, what every price source returns and raises (sources.py), the retries and circuit breaker
in front of a remote one, one live snapshot of a league (snapshot.py), and daily prices built from live 5-minute
snapshots. Bad input is named (file, line, field) or quarantined here, before any price reaches a table."""

from poeconomy_assets.core.ingest.circuit_breaker import CircuitBreaker
from poeconomy_assets.core.ingest.currency_names import (
    MAX_NAME_LENGTH,
    NEAR_MISS_RATIO,
    CurrencyResolver,
    canonicalize_currencies,
    match_key,
    name_problem,
    printable,
)
from poeconomy_assets.core.ingest.dumps import DumpImport, league_catalog, read_dump_dir
from poeconomy_assets.core.ingest.league_dates import far_from_median, far_reason
from poeconomy_assets.core.ingest.leagues import LeagueRules, followed_leagues, parse_leagues
from poeconomy_assets.core.ingest.live_prices import (
    SLOT_SECONDS,
    daily_from_snapshots,
    parse_slot,
    slot_key,
    slot_start,
)
from poeconomy_assets.core.ingest.poe_watch_payloads import (
    CATEGORIES,
    GO_ZERO_TIME,
    PayloadError,
    decode_json,
    parse_history,
    parse_items,
    parse_timestamp,
)
from poeconomy_assets.core.ingest.retries import RetryPolicy, Transient, call_with_retries
from poeconomy_assets.core.ingest.slot_accounting import DAY, SlotReport, older_than_a_day
from poeconomy_assets.core.ingest.snapshot import SnapshotRequest, take_snapshot
from poeconomy_assets.core.ingest.snapshot_rows import (
    NOT_EMPTY,
    NOT_NULL,
    SNAPSHOT_KEY,
    RawPayload,
    payload_hash,
    validate_snapshots,
)
from poeconomy_assets.core.ingest.sources import (
    Fetched,
    IngestFailure,
    SourceError,
    SourceUnavailable,
    fetch_or_fail,
)

__all__ = [
    "CATEGORIES",
    "DAY",
    "GO_ZERO_TIME",
    "MAX_NAME_LENGTH",
    "NEAR_MISS_RATIO",
    "NOT_EMPTY",
    "NOT_NULL",
    "SLOT_SECONDS",
    "SNAPSHOT_KEY",
    "CircuitBreaker",
    "CurrencyResolver",
    "DumpImport",
    "Fetched",
    "IngestFailure",
    "LeagueRules",
    "PayloadError",
    "RawPayload",
    "RetryPolicy",
    "SlotReport",
    "SnapshotRequest",
    "SourceError",
    "SourceUnavailable",
    "Transient",
    "call_with_retries",
    "canonicalize_currencies",
    "daily_from_snapshots",
    "decode_json",
    "far_from_median",
    "far_reason",
    "fetch_or_fail",
    "followed_leagues",
    "league_catalog",
    "match_key",
    "name_problem",
    "older_than_a_day",
    "parse_history",
    "parse_items",
    "parse_leagues",
    "parse_slot",
    "parse_timestamp",
    "payload_hash",
    "printable",
    "read_dump_dir",
    "slot_key",
    "slot_start",
    "take_snapshot",
    "validate_snapshots",
]
