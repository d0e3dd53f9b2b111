"""Names the database must never see are refused before SQL; payload and rows are stored together or not at all."""

from datetime import UTC, datetime

import polars as pl
import pytest

from poeconomy_assets.core.ingest.currency_names import MAX_NAME_LENGTH
from poeconomy_assets.resources.price_store import PriceStore, RawPayload

from .store_workers import snapshot_rows


@pytest.mark.parametrize(
    "column, value, problem",
    [
        ("currency", "Divine\x00Orb", "NUL, control or bidi"),
        ("currency", "Divine\u202eOrb", "NUL, control or bidi"),
        ("league", "Settlers\x00", "NUL, control or bidi"),
        ("currency", "D" * (MAX_NAME_LENGTH + 1), f"longer than {MAX_NAME_LENGTH}"),
        ("currency", "D" * 1_000_000, f"longer than {MAX_NAME_LENGTH}"),
    ],
)
def test_bad_names_are_refused_with_row_and_column_before_the_database(
    price_store: PriceStore, column: str, value: str, problem: str
) -> None:
    rows = snapshot_rows(3).with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    with pytest.raises(ValueError, match=f"snapshot row 1: column {column} = .*{problem}") as caught:
        price_store.upsert_snapshots(rows)
    assert len(str(caught.value)) < 400  # a 1M-character name is not echoed back
    assert price_store.count_snapshots() == 0


def test_payloads_and_rows_commit_together_or_not_at_all(price_store: PriceStore) -> None:
    payload = RawPayload("Settlers", "currency", datetime(2026, 11, 24, 12, tzinfo=UTC), b"[1, 2, 3]")

    def crash() -> None:
        raise RuntimeError("killed before COMMIT")

    with pytest.raises(RuntimeError, match="killed before COMMIT"):
        price_store.store_payloads_and_snapshots([payload], snapshot_rows(5), before_commit=crash)
    assert (
        price_store.last_payload_hash("Settlers", "currency") is None and price_store.count_snapshots() == 0
    )
    assert price_store.store_payloads_and_snapshots([payload], snapshot_rows(5)) == 5
    assert price_store.last_payload_hash("Settlers", "currency") is not None


@pytest.mark.parametrize(
    "field_name, value, problem",
    [
        ("league", "Settlers\x00", "NUL, control, bidi or lone surrogate"),
        ("league", "S" * 1_000_000, f"longer than {MAX_NAME_LENGTH} characters"),
        ("league", "Settlers \ud800", "lone surrogate"),
        ("category", "currency\x00", "NUL, control, bidi or lone surrogate"),
        ("league", "", "empty"),
    ],
)
def test_archive_payload_refuses_a_bad_league_or_category_before_the_database(
    price_store: PriceStore, field_name: str, value: str, problem: str
) -> None:
    """Issue 21: PostgreSQL answered a NUL or a 1M-character league with raw database errors."""
    args = {"league": "Settlers", "category": "currency", field_name: value}
    fetched_at = datetime(2026, 11, 24, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match=f"payload {field_name} = .*{problem}") as caught:
        price_store.archive_payload(args["league"], args["category"], fetched_at, b"[]")
    assert len(str(caught.value)) < 400
    with pytest.raises(ValueError, match=f"payload {field_name}"):
        price_store.store_payloads_and_snapshots(
            [RawPayload(args["league"], args["category"], fetched_at, b"[]")], snapshot_rows(2)
        )
    assert price_store.count_snapshots() == 0  # nothing of the batch was written
    assert price_store.archive_payload("Settlers", "currency", fetched_at, b"[]").payload_id >= 1
