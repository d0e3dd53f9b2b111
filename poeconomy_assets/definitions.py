"""The code location: every asset, check, job, schedule, sensor and resource of poeconomy-assets."""

import dagster as dg

from poeconomy_assets.defs import features, forecasts, history, models, prices, reports, scorecards
from poeconomy_assets.defs.catalog import with_catalog_facts
from poeconomy_assets.defs.drift import SENSORS as DRIFT_SENSORS
from poeconomy_assets.defs.jobs import JOBS
from poeconomy_assets.defs.live import league_history, snapshots
from poeconomy_assets.defs.live.sensors import SENSORS as LIVE_SENSORS
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.defs.schedules import (
    SCHEDULES,
    refresh_automation_sensor,
    weekly_retrain_sensor,
    with_refresh_automation,
)
from poeconomy_assets.execution.executor import executor_from_env

ASSET_MODULES = [history, snapshots, league_history, prices, features, models, forecasts, reports, scorecards]
SENSORS = [*LIVE_SENSORS, *DRIFT_SENSORS, refresh_automation_sensor, weekly_retrain_sensor]


def build_defs(resources: dict[str, object], executor: dg.ExecutorDefinition | None = None) -> dg.Definitions:
    """The graph with the given resources (the embedded default, PostgreSQL, or a test's temp dirs), its
    steps run by ``executor`` (default: Dagster's multiprocess executor; Celery workers in deploy/celery)."""
    return dg.Definitions(
        assets=with_catalog_facts(with_refresh_automation(dg.load_assets_from_modules(ASSET_MODULES))),
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=SENSORS,
        resources=resources,
        # Every run here materializes one partition of one or two assets in sequence: the multiprocess
        # executor's extra process per step (a second import of the whole stack, seconds of CPU) buys nothing.
        # Parallelism comes from runs side by side (the instance's max_concurrent_runs and pools), or from
        # Celery workers when deploy/celery passes its executor.
        executor=executor or dg.in_process_executor,
    )


defs = build_defs(build_resources(), executor_from_env())  # Celery or Kubernetes: execution/executor.py
