"""Schedules and the refresh cadence: the live league's model inputs and report once a day, models once a week.

``daily_prices`` of a live league is rebuilt by every 5-minute ingestion run (and of the most recently started
league by ``daily_refresh_schedule``). Features, forecasts and the report do not follow every such update: they
refresh **once per day, when the day's close is in** (``REFRESH_CRON``, 00:10 UTC, after the 23:55 slot), through
the automation conditions of :func:`refresh_conditions`, evaluated by ``refresh_automation_sensor``:

- ``currency_features``: after the cron tick, once some league's daily prices changed since it (only live
  leagues' prices change; an ended league's never do), and nothing upstream is still running;
- ``price_forecasts``: after the features refreshed since the tick, none of them still running or requested;
- ``investment_report`` of a league: only when *that league's* daily prices changed since the tick (so never an
  ended league's report), and only once every forecast has been refreshed since the tick and none is running
  (never a report on half-updated forecasts).

Each fires at most once per cron tick. Both schedules start stopped and are switched on in the UI (Automation)
or with ``dagster schedule start``.
"""

from datetime import datetime, timedelta

import dagster as dg

from poeconomy_assets.core.keys import name_from_key
from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.defs.backfill import asset_backfill_request
from poeconomy_assets.defs.jobs import BATCH, daily_prices_job, pooled_model_job
from poeconomy_assets.defs.partitions import currency_partitions, league_partitions
from poeconomy_assets.defs.selection import RETRAIN
from poeconomy_assets.resources.live_clock import LiveClock

REFRESHED_DOWNSTREAM = ["currency_features", "price_forecasts", "investment_report"]
REFRESH_CRON = "10 0 * * *"  # 00:10 UTC: yesterday's close is in (its 23:55 slot is stored)


def live_league_key(instance: dg.DagsterInstance) -> str | None:
    """The league partition registered last: the importer registers leagues oldest first."""
    keys = instance.get_dynamic_partitions(league_partitions.name)
    return keys[-1] if keys else None


@dg.schedule(
    job=daily_prices_job,
    cron_schedule="15 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every day: daily prices of the live league, then (eagerly) its features, forecasts "
    "and report.",
)
def daily_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    league = live_league_key(context.instance)
    if league is None:
        return dg.SkipReason("no league partition yet: import history first")
    day = context.scheduled_execution_time.date().isoformat() if context.scheduled_execution_time else "now"
    return dg.RunRequest(
        run_key=f"daily-{league}-{day}",
        partition_key=league,
        tags={"poeconomy/league": name_from_key(league)},
    )


RETRAIN_WEEKDAY, RETRAIN_HOUR = 0, 3  # Mondays 03:00 UTC, an hour after weekly_pooled_retrain_schedule


def retrain_week(now: datetime) -> str | None:
    """The ISO week whose retrain is due at ``now`` (Monday 03:00 UTC or later), or None before it."""
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=RETRAIN_HOUR, minute=0, second=0, microsecond=0
    )
    return monday.strftime("%G-W%V") if now >= monday else None


@dg.sensor(
    asset_selection=RETRAIN,
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Every Monday from 03:00 UTC (once a week): one asset backfill that retrains every currency × "
    "horizon model, then recalibrates the intervals and forecasts with them. A sensor, not a "
    "schedule: in Dagster 1.13 only sensors can launch an asset backfill (batched runs, in "
    "dependency order).",
)
def weekly_retrain_sensor(
    context: dg.SensorEvaluationContext, live_clock: LiveClock
) -> dg.SensorResult | dg.SkipReason:
    week = retrain_week(live_clock.now())
    if week is None or context.cursor == week:
        return dg.SkipReason(
            f"this week's retrain is {'done' if week else 'not due yet'} (Mondays 03:00 UTC)"
        )
    currencies = context.instance.get_dynamic_partitions(currency_partitions.name)
    if not currencies:
        return dg.SkipReason("no currency partition yet: import history first")
    graph = context.repository_def.asset_graph
    pairs = []
    with dg.partition_loading_context(dynamic_partitions_store=context.instance):
        for key in RETRAIN.resolve(graph):
            partitions_def = graph.get(key).partitions_def
            keys = [None] if partitions_def is None else partitions_def.get_partition_keys()
            pairs += [(key, k) for k in keys]
    request = asset_backfill_request(graph, pairs, tags={**BATCH, "poeconomy/retrain": week})
    return dg.SensorResult(run_requests=[request], cursor=week)


def refresh_conditions(cron: str = REFRESH_CRON) -> dict[str, dg.AutomationCondition]:
    """The automation condition of each refreshed asset (see the module docstring)."""
    ac = dg.AutomationCondition
    tick = ac.cron_tick_passed(cron, "UTC")
    once_per_tick = tick.since_last_handled()
    updated_since_tick = ac.newly_updated().since(tick)
    busy = ac.in_progress() | ac.will_be_requested()
    idle = ~ac.in_progress() & ~ac.any_deps_match(busy)

    def deps(*names: str) -> dg.AssetSelection:
        return dg.AssetSelection.assets(*names)

    features = once_per_tick & ac.any_deps_match(updated_since_tick) & idle
    forecasts = (
        once_per_tick
        & ac.any_deps_match(updated_since_tick).allow(deps("currency_features"))
        & idle
        # Only forecasts made before: a pair with no model yet has none (training makes its first one). Not
        # "no price_models dep missing": a forecast depends on every model of its horizon, so one new
        # currency without a model would stop every forecast of that horizon.
        & ~ac.missing()
    )
    every_forecast_refreshed = ~ac.any_deps_match(~updated_since_tick & ~ac.missing()).allow(
        deps("price_forecasts")
    )
    report = (
        once_per_tick
        & ac.any_deps_match(updated_since_tick).allow(deps("daily_prices"))
        & ac.any_deps_match(updated_since_tick).allow(deps("price_forecasts"))
        & every_forecast_refreshed
        & idle
    )
    return {
        "currency_features": features.with_label("daily: the day's close is in"),
        "price_forecasts": forecasts.with_label("daily: after the refreshed features"),
        "investment_report": report.with_label(
            "daily: this league's prices changed and every forecast is in"
        ),
    }


@dg.schedule(
    job=pooled_model_job,
    cron_schedule="0 2 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every Monday, an hour before the weekly retrain: one pooled search per horizon on the "
    "week's features (the retrained currency models are built from these).",
)
def weekly_pooled_retrain_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    week = context.scheduled_execution_time.strftime("%G-W%V") if context.scheduled_execution_time else "now"
    return [dg.RunRequest(run_key=f"pooled-{week}-{h}", partition_key=h) for h in HORIZONS]


def with_refresh_automation(assets: list) -> list:
    """The assets, with the daily refresh conditions on what the live league's prices carry downstream."""
    conditions = refresh_conditions()
    return list(
        dg.map_asset_specs(
            lambda spec: (
                spec.replace_attributes(automation_condition=conditions[spec.key.to_user_string()])
                if spec.key.to_user_string() in conditions
                else spec
            ),
            assets,
        )
    )


refresh_automation_sensor = dg.AutomationConditionSensorDefinition(
    "refresh_automation_sensor",
    target=dg.AssetSelection.assets(*REFRESHED_DOWNSTREAM),
    default_status=dg.DefaultSensorStatus.STOPPED,
    run_tags=BATCH,
    description="Once a day, when the day's close is in: the live league's features, then forecasts, then its "
    "report (see defs/schedules.py).",
)

SCHEDULES = [daily_refresh_schedule, weekly_pooled_retrain_schedule]
