"""The daily refresh and weekly retraining schedules, evaluated against a real (temporary) instance."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.partitions import register_partitions
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.defs.schedules import (
    REFRESHED_DOWNSTREAM,
    daily_refresh_schedule,
    weekly_retrain_sensor,
)
from poeconomy_assets.resources.live_clock import LiveClock

MONDAY = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
DEFS = build_defs(build_resources(Path("/nonexistent")))  # the schedules never touch the resources


def _context(instance: dg.DagsterInstance) -> dg.ScheduleEvaluationContext:
    return dg.build_schedule_context(
        instance=instance, scheduled_execution_time=MONDAY, repository_def=DEFS.get_repository_def()
    )


@pytest.fixture
def instance(tmp_path: Path):
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        yield instance


def test_daily_refresh_targets_the_live_league(instance: dg.DagsterInstance) -> None:
    before = daily_refresh_schedule.evaluate_tick(_context(instance))
    assert not before.run_requests and "no league partition yet" in (before.skip_message or "")
    register_partitions(instance, ["Ritual", "Ultimatum"], ["Divine Orb"])
    data = daily_refresh_schedule.evaluate_tick(_context(instance))
    [request] = data.run_requests
    assert request.partition_key == key_from_name("Ultimatum")
    assert request.run_key == "daily-Ultimatum-2026-11-23"


def _sensor_tick(instance: dg.DagsterInstance, at: datetime, cursor: str | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        repository_def=DEFS.get_repository_def(),
        resources={"live_clock": LiveClock.frozen(at)},
    )
    return weekly_retrain_sensor(context)


def test_weekly_retrain_requests_one_backfill_of_every_currency_and_horizon_once_a_week(
    instance: dg.DagsterInstance,
) -> None:
    before = _sensor_tick(instance, MONDAY)
    assert isinstance(before, dg.SkipReason) and "no currency partition yet" in before.skip_message
    register_partitions(instance, ["Ultimatum"], ["Divine Orb", "Exalted Orb"])
    sunday = _sensor_tick(instance, datetime(2026, 11, 23, 2, 59, tzinfo=UTC))
    assert isinstance(sunday, dg.SkipReason) and "not due yet" in sunday.skip_message
    data = _sensor_tick(instance, MONDAY)
    (request,) = data.run_requests  # one asset backfill: Dagster batches and orders its runs
    keys = sorted(
        str(p.partition_key)
        for p in request.asset_graph_subset.iterate_asset_partitions()
        if p.asset_key == dg.AssetKey("price_models")
    )
    assert keys == sorted(f"{c}|{h}" for c in ("Divine Orb", "Exalted Orb") for h in ("1d", "3d", "7d"))
    assert request.tags["poeconomy/retrain"] == "2026-W48" == data.cursor
    later = _sensor_tick(instance, datetime(2026, 11, 25, 12, 0, tzinfo=UTC), data.cursor)  # same week: once
    assert isinstance(later, dg.SkipReason) and "done" in later.skip_message


def test_schedules_and_sensors_are_registered_and_switchable() -> None:
    defs = DEFS
    assert {s.name for s in defs.schedules} == {"daily_refresh_schedule", "weekly_pooled_retrain_schedule"}
    assert defs.resolve_sensor_def("weekly_retrain_sensor").default_status == dg.DefaultSensorStatus.STOPPED
    for schedule in defs.schedules:
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED  # switched on in the UI
    assert {"drift_sensor", "refresh_automation_sensor"} <= {s.name for s in defs.sensors}
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    for name in REFRESHED_DOWNSTREAM:
        assert specs[name].automation_condition is not None, f"{name} would not follow the daily refresh"
    assert specs["price_models"].automation_condition is None, "retraining is weekly, never eager"
