"""Which 5-minute slots of a live league were stored, refilled or lost: the ledger behind the operations view.

Every ingestion run reports the slot its fetch was stored under, the earlier slots it refilled, and the ones it
had to give up (with the reason). ``account`` turns those reports into the last 24 hours' picture: slots
expected (every slot since ingestion began, at most 24 h back), stored, refilled, lost with their reasons, and
slots nobody reported on at all (the sensor was stopped or the daemon down).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from poeconomy_assets.core.ingest.live_prices import SLOT_SECONDS, parse_slot, slot_key, slot_start

DAY = timedelta(days=1)


@dataclass
class SlotReport:
    """What one ingestion run says about slots (from its materialization metadata)."""

    stored: str  # the slot its fetch is stored under (the slot of the fetch time)
    refilled: dict[str, str] = field(default_factory=dict)  # earlier slot -> how it was refilled
    lost: dict[str, str] = field(default_factory=dict)  # earlier slot -> why it could not be refilled


@dataclass
class SlotAccount:
    expected: list[str]
    stored: list[str]
    refilled: dict[str, str]
    lost: dict[str, str]  # reason per slot, including slots nobody reported on

    def summary(self) -> str:
        return (
            f"{len(self.expected)} slots expected, {len(self.stored)} stored, {len(self.refilled)} refilled, "
            f"{len(self.lost)} lost"
        )


def slots_between(first: datetime, last: datetime) -> list[str]:
    """Slot keys from ``first``'s slot to ``last``'s slot, both included."""
    start, end = slot_start(first), slot_start(last)
    count = int((end - start).total_seconds() // SLOT_SECONDS) + 1
    return [slot_key(start + timedelta(seconds=SLOT_SECONDS * i)) for i in range(max(0, count))]


def account(reports: list[SlotReport], now: datetime, first_seen: datetime | None) -> SlotAccount:
    """The last 24 hours up to ``now``'s slot (not counting it if no run reported on it yet)."""
    window_start = slot_start(now - DAY) + timedelta(seconds=SLOT_SECONDS)
    begin = max(window_start, slot_start(first_seen)) if first_seen else window_start
    stored = {r.stored for r in reports}
    refilled = {s: how for r in reports for s, how in r.refilled.items() if s not in stored}
    lost = {s: why for r in reports for s, why in r.lost.items() if s not in stored and s not in refilled}
    expected = slots_between(begin, now)
    current = slot_key(slot_start(now))
    if current not in stored and current not in refilled and current not in lost:
        expected = expected[:-1]  # the current slot's run may still be on its way
    for s in expected:
        if s not in stored and s not in refilled and s not in lost:
            lost[s] = "no run reported on this slot (sensor stopped, daemon down, or not yet handed to a run)"
    in_window = set(expected)
    return SlotAccount(
        expected=expected,
        stored=sorted(s for s in stored if s in in_window),
        refilled={s: refilled[s] for s in sorted(refilled) if s in in_window},
        lost={s: lost[s] for s in sorted(lost) if s in in_window},
    )


def older_than_a_day(slot: str, now: datetime) -> bool:
    return parse_slot(slot) <= now - DAY


def refill(missed: dict[str, str], hashes: dict[str, str], earlier: pl.DataFrame) -> tuple[dict, dict]:
    """(refilled, lost) missed slots. A slot is refilled when, for every category with rows, the payload fetched
    now is the one whose rows were last stored before that slot: POE Watch had not changed its prices in between,
    so the slot's prices are the stored ones. Otherwise its own prices are gone (``/history`` keeps daily means
    only) and it is lost, with the reason it was missed."""
    refilled, lost = {}, {}
    for slot, reason in sorted(missed.items()):
        before = earlier.filter(pl.col("snapshot_at") < parse_slot(slot))
        if before.is_empty():
            lost[slot] = f"{reason}; no earlier snapshot to compare with"
            continue
        in_effect = before.sort("snapshot_at").group_by("category").last()
        changed = [c for c, h in zip(in_effect["category"], in_effect["payload_hash"]) if hashes.get(c) != h]
        if changed:
            lost[slot] = (
                f"{reason}; POE Watch changed its {', '.join(changed)} prices since (not recoverable)"
            )
        else:
            refilled[slot] = f"{reason}; refilled: the payload fetched now is the one in effect then"
    return refilled, lost
