"""The last 24 hours of a league's slots from its runs' reports."""

from datetime import UTC, datetime

from poeconomy_assets.core.ingest.slot_accounting import SlotReport, account, slots_between

NOW = datetime(2025, 6, 20, 12, 21, tzinfo=UTC)


def test_every_expected_slot_is_stored_refilled_or_lost_with_a_reason() -> None:
    reports = [
        SlotReport("2025-06-20T12:00:00Z"),
        SlotReport(
            "2025-06-20T12:15:00Z",
            refilled={"2025-06-20T12:05:00Z": "skipped: run in flight; refilled"},
            lost={"2025-06-20T12:00:00Z": "later report of a stored slot: ignored"},
        ),
    ]
    day = account(reports, NOW, datetime(2025, 6, 20, 12, 0, tzinfo=UTC))
    assert day.expected == [
        "2025-06-20T12:00:00Z",
        "2025-06-20T12:05:00Z",
        "2025-06-20T12:10:00Z",
        "2025-06-20T12:15:00Z",
    ]  # 12:20 is not reported yet: its run may be on its way
    assert day.stored == ["2025-06-20T12:00:00Z", "2025-06-20T12:15:00Z"]
    assert list(day.refilled) == ["2025-06-20T12:05:00Z"]
    assert list(day.lost) == ["2025-06-20T12:10:00Z"] and day.lost["2025-06-20T12:10:00Z"].startswith(
        "no run"
    )
    assert day.summary() == "4 slots expected, 2 stored, 1 refilled, 1 lost"


def test_the_window_is_24_hours_and_starts_at_the_first_snapshot() -> None:
    assert len(account([], NOW, None).expected) == 288 - 1  # the current slot is not counted yet
    assert len(slots_between(datetime(2025, 6, 20, 11, 58, tzinfo=UTC), NOW)) == 6  # 11:55 … 12:20
    old = [SlotReport("2025-06-18T12:00:00Z")]
    assert account(old, NOW, datetime(2025, 6, 18, tzinfo=UTC)).stored == []


def test_a_missed_slot_is_refilled_only_when_the_payload_in_effect_then_is_the_one_fetched_now() -> None:
    import polars as pl

    from poeconomy_assets.core.ingest.slot_accounting import refill

    stored = pl.DataFrame(
        {
            "snapshot_at": [datetime(2025, 6, 20, 12, 0, tzinfo=UTC)] * 2,
            "category": ["currency", "fragment"],
            "payload_hash": ["aaa", "fff"],
        }
    )
    missed = {"2025-06-20T12:05:00Z": "skipped: breaker open", "2025-06-20T11:55:00Z": "no sensor tick"}
    refilled, lost = refill(missed, {"currency": "aaa", "fragment": "fff"}, stored)
    assert list(refilled) == ["2025-06-20T12:05:00Z"] and refilled["2025-06-20T12:05:00Z"].startswith(
        "skipped"
    )
    assert "no earlier snapshot" in lost["2025-06-20T11:55:00Z"]  # nothing stored before it to compare with
    refilled, lost = refill(missed, {"currency": "bbb", "fragment": "fff"}, stored)
    assert not refilled and "changed its currency prices" in lost["2025-06-20T12:05:00Z"]
