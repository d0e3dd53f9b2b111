"""The ingestion sensor's memory of slots: which one it asked for last, and which earlier ones still need a run.

A slot is *missed* when its tick was skipped (an ingestion run still in flight, the circuit breaker open), when
its run failed or was canceled, or when no tick happened in it at all. Missed slots ride along, with their
reasons, in the config of the next run request; once a run has succeeded they are its business (it refills what
it can and records the rest as lost, see ``core/ingest/snapshot.py``). The same module reads the operations view
back from the instance (``InstanceRecords``): the slot reports of the last day's runs and the queue delay of the
last runs.
"""

from datetime import datetime, timedelta

import dagster as dg

from poeconomy_assets.core.ingest import DAY, SLOT_SECONDS, SlotReport, older_than_a_day, parse_slot, slot_key
from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.defs.partitions import known_currencies, register_partitions

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
SLOT_TAG = "poeconomy/slot"
SNAPSHOTS = dg.AssetKey("poe_watch_snapshots")


def run_failure(instance: dg.DagsterInstance, run_id: str) -> str:
    """The first step failure's description (or error message) of a run, for a lost slot's reason."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE, limit=1).records
    if not records or records[0].event_log_entry.dagster_event is None:
        return "no step failure recorded"
    data = records[0].event_log_entry.dagster_event.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description[:300]
    return (data.error.message.strip() if data.error else "unknown error")[:300]


def slot_run(instance: dg.DagsterInstance, league: str, slot: str) -> dg.DagsterRun | None:
    """The latest ingestion run of ``league`` for ``slot``."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name="ingestion_job", tags={SLOT_TAG: slot, "dagster/partition": key_from_name(league)}
        ),
        limit=1,
    )
    return records[0].dagster_run if records else None


class SlotLedger:
    """Per league: ``last`` (slot last requested), ``missed`` (slot -> reason), ``carried`` (missed slots the
    last request handed over)."""

    def __init__(self, state: dict[str, dict]):
        self.state = state

    @classmethod
    def from_cursor(cls, state: dict) -> "SlotLedger":
        return cls(
            {
                league: {
                    "last": s.get("last"),
                    "missed": dict(s.get("missed", {})),
                    "carried": list(s.get("carried", [])),
                }
                for league, s in state.items()
            }
        )

    def to_cursor(self) -> dict:
        return self.state

    def _league(self, league: str) -> dict:
        return self.state.setdefault(league, {"last": None, "missed": {}, "carried": []})

    def skip(self, leagues: list[str], slot: datetime, reason: str) -> None:
        """Remember that ``slot`` got no run, and why (a slot already requested is not missed)."""
        for league in leagues:
            state = self._league(league)
            if state["last"] != slot_key(slot):
                state["missed"].setdefault(slot_key(slot), reason)

    def settle(self, instance: dg.DagsterInstance, league: str, slot: datetime) -> dict[str, str]:
        """Before requesting ``slot``: learn how the last requested run ended and which slots had no tick;
        returns the missed slots (at most a day old) the next run is to refill."""
        state = self._league(league)
        current, last = slot_key(slot), state["last"]
        if last is not None and last != current:
            run = slot_run(instance, league, last)
            if run is None:
                state["missed"].setdefault(last, "requested, but no run was launched for it")
            elif run.status == dg.DagsterRunStatus.SUCCESS:
                for handed in state["carried"]:
                    state["missed"].pop(handed, None)
            elif run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
                why = (
                    run_failure(instance, run.run_id)
                    if run.status == dg.DagsterRunStatus.FAILURE
                    else "canceled"
                )
                state["missed"].setdefault(last, f"run {run.run_id[:8]} {run.status.value.lower()}: {why}")
            gap = parse_slot(last) + timedelta(seconds=SLOT_SECONDS)
            while gap < slot:
                state["missed"].setdefault(slot_key(gap), "no sensor tick in this slot")
                gap += timedelta(seconds=SLOT_SECONDS)
        state["missed"] = {
            s: r for s, r in sorted(state["missed"].items()) if s != current and not older_than_a_day(s, slot)
        }
        return dict(state["missed"])

    def request(self, league: str, slot: datetime, missed: dict[str, str]) -> dg.RunRequest:
        state = self._league(league)
        state["last"], state["carried"] = slot_key(slot), sorted(missed)
        config = {"slot": slot_key(slot), "missed_slots": missed}
        return dg.RunRequest(
            run_key=f"{key_from_name(league)}@{slot_key(slot)}",
            partition_key=key_from_name(league),
            run_config={"ops": {"poe_watch_snapshots": {"config": config}}},
            tags={SLOT_TAG: slot_key(slot)},
        )


def slot_reports(instance: dg.DagsterInstance, league_key: str) -> tuple[list[SlotReport], str | None]:
    """The slot reports of the league's latest snapshots (two days' worth: ``account`` keeps the last 24 hours),
    and the slot of its first snapshot ever. Slots, not event timestamps, so a simulated clock reads the same."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=SNAPSHOTS, asset_partitions=[league_key]),
        limit=2 * DAY // timedelta(seconds=SLOT_SECONDS),
    ).records
    reports = []
    for record in records:
        metadata = record.asset_materialization.metadata if record.asset_materialization else {}
        if "slot" in metadata:
            reports.append(
                SlotReport(
                    str(metadata["slot"].value),
                    _table(metadata, "refilled_slots"),
                    _table(metadata, "lost_slots"),
                )
            )
    first = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=SNAPSHOTS, asset_partitions=[league_key]), limit=1, ascending=True
    ).records
    metadata = first[0].asset_materialization.metadata if first and first[0].asset_materialization else {}
    return reports, str(metadata["slot"].value) if "slot" in metadata else None


def _table(metadata: dict, name: str) -> dict[str, str]:
    value = metadata.get(name)
    return dict(value.value) if value is not None and isinstance(value.value, dict) else {}


def queue_window(instance: dg.DagsterInstance, run_id: str) -> tuple[float, float] | None:
    """(enqueued, launched) timestamps of a run that went through the run queue; None for in-process runs."""
    times = {}
    for kind in (dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_STARTING):
        records = instance.get_records_for_run(run_id, of_type=kind, limit=1).records
        if records:
            times[kind] = records[0].timestamp
    if len(times) < 2:
        return None
    return times[dg.DagsterEventType.RUN_ENQUEUED], times[dg.DagsterEventType.RUN_STARTING]


def queue_delays(instance: dg.DagsterInstance, limit: int = 10) -> list[dict]:
    """How long the last ingestion runs waited in the run queue (enqueued until the daemon launched them)."""
    rows = []
    for record in instance.get_run_records(filters=dg.RunsFilter(job_name="ingestion_job"), limit=limit):
        window = queue_window(instance, record.dagster_run.run_id)
        rows.append(
            {
                "run": record.dagster_run.run_id[:8],
                "league": record.dagster_run.tags.get("dagster/partition"),
                "slot": record.dagster_run.tags.get(SLOT_TAG, ""),
                "status": record.dagster_run.status.value,
                "queue_delay_s": round(window[1] - window[0], 1) if window else None,
            }
        )
    return rows


class InstanceRecords:
    """``core.ingest.snapshot.RunRecords`` from the Dagster instance: one league's ingestion runs, seen from the
    run ``run_id`` of its partition ``league_key``."""

    def __init__(self, instance: dg.DagsterInstance, league_key: str, run_id: str):
        self.instance, self.league_key, self.run_id = instance, league_key, run_id

    def slot_reports(self) -> tuple[list[SlotReport], str | None]:
        return slot_reports(self.instance, self.league_key)

    def known_currencies(self) -> list[str]:
        return known_currencies(self.instance)

    def add_currencies(self, names: list[str]) -> list[str]:
        return register_partitions(self.instance, [], names)["currency"]

    def queue_delay(self) -> float | None:
        window = queue_window(self.instance, self.run_id)
        return window[1] - window[0] if window else None

    def recent_queue_delays(self) -> list[dict]:
        return queue_delays(self.instance)
