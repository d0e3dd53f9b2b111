"""take_snapshot without Dagster: the spec's recorded payloads, a real embedded price store, a clock we move."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from poeconomy_assets.core.ingest.slot_accounting import SlotReport
from poeconomy_assets.core.ingest.snapshot import SnapshotRequest, take_snapshot
from poeconomy_assets.core.ingest.sources import IngestFailure
from poeconomy_assets.core.report.markdown import Markdown
from poeconomy_assets.resources.price_store_sqlite import EmbeddedPriceStore
from poeconomy_assets.resources.recorded_source import RecordedPriceSource

from ...conftest import SPEC_FIXTURES

SLOT = datetime(2024, 8, 5, 12, 0, tzinfo=UTC)


class Records:
    """RunRecords kept in memory: the reports of the runs so far, the currencies tracked."""

    def __init__(self) -> None:
        self.reports: list[SlotReport] = []
        self.currencies: list[str] = []

    def slot_reports(self) -> tuple[list[SlotReport], str | None]:
        return list(self.reports), self.reports[0].stored if self.reports else None

    def known_currencies(self) -> list[str]:
        return list(self.currencies)

    def add_currencies(self, names: list[str]) -> list[str]:
        new = [n for n in names if n not in self.currencies]
        self.currencies += new
        return new

    def queue_delay(self) -> float | None:
        return None

    def recent_queue_delays(self) -> list[dict]:
        return []


def _snapshot(store, records, at: datetime, source=None, **request):
    result = take_snapshot(
        SnapshotRequest("Settlers", **request),
        source=source or RecordedPriceSource(directory=str(SPEC_FIXTURES)),
        store=store,
        clock=lambda: at,
        records=records,
    )
    metadata = result.metadata
    records.reports.append(SlotReport(metadata["slot"], metadata["refilled_slots"], metadata["lost_slots"]))
    return result


def test_stores_a_slot_once_and_an_unchanged_payload_is_a_no_op(tmp_path: Path) -> None:
    store, records = EmbeddedPriceStore(path=str(tmp_path / "prices.sqlite")), Records()
    first = _snapshot(store, records, SLOT + timedelta(seconds=3))
    m = first.metadata
    assert m["slot"] == "2024-08-05T12:00:00Z" and m["no_op"] is False
    assert m["rows_received"] == 18 and m["rows_inserted"] == m["rows_accepted"] == store.count_snapshots()
    assert m["no_data_categories"] == "fragment"  # no recording: POE Watch's "no data", not zero prices
    assert m["new_currency_partitions"].startswith("Blessed Orb") and "Divine Orb" in records.currencies
    assert m["circuit_breaker"] == "none" and m["queue_delay_seconds"] is None
    assert isinstance(m["problems"], Markdown) and isinstance(m["lost_slots_24h"], Markdown)
    assert set(m) >= {f"rows_{r}" for r in ("missing_id", "price_jump", "duplicate_id", "low_confidence")}
    assert "Settlers @ 2024-08-05T12:00:00Z" in first.summary

    again = _snapshot(store, records, SLOT + timedelta(minutes=5, seconds=3))
    assert again.metadata["no_op"] is True and again.metadata["rows_inserted"] == 0
    assert again.metadata["unchanged_categories"] == "currency, fragment"
    assert again.metadata["slots_24h"] == "2 slots expected, 2 stored, 0 refilled, 0 lost"


def test_a_late_run_stores_under_its_fetch_slot_and_refills_the_one_it_was_meant_for(tmp_path: Path) -> None:
    store, records = EmbeddedPriceStore(path=str(tmp_path / "prices.sqlite")), Records()
    _snapshot(store, records, SLOT + timedelta(seconds=3))
    late = _snapshot(
        store,
        records,
        SLOT + timedelta(minutes=12),
        slot="2024-08-05T12:05:00Z",
        missed_slots={"2024-08-05T12:00:00Z": "stored already", "2024-08-05T11:55:00Z": "no tick"},
    )
    m = late.metadata
    assert (m["slot"], m["meant_for_slot"]) == ("2024-08-05T12:10:00Z", "2024-08-05T12:05:00Z")
    assert list(m["refilled_slots"]) == ["2024-08-05T12:05:00Z"]  # the payload in effect then is this one
    assert "s after the slot began" in m["refilled_slots"]["2024-08-05T12:05:00Z"]
    assert list(m["lost_slots"]) == ["2024-08-05T11:55:00Z"]  # before the first snapshot: nothing to compare
    assert "1 missed slots refilled, 1 lost" in late.summary


def test_an_unusable_payload_fails_before_anything_is_archived(tmp_path: Path) -> None:
    (tmp_path / "get_currency_settlers.json").write_text('{"error": "Missing league"}')
    store = EmbeddedPriceStore(path=str(tmp_path / "prices.sqlite"))
    with pytest.raises(IngestFailure, match="unusable payload.*JSON dict, not a list") as caught:
        _snapshot(store, Records(), SLOT, source=RecordedPriceSource(directory=str(tmp_path)))
    assert caught.value.metadata["url"].endswith("get_currency_settlers.json")
    assert store.count_snapshots() == 0 and store.last_payload_hash("Settlers", "currency") is None
