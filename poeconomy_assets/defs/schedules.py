"""Schedules: refresh the live league every day, retrain every currency × horizon model every week.

The daily schedule materializes ``daily_prices`` of the live (most recently started) league; the
features, forecasts and report downstream follow through their ``AutomationCondition.eager()``
(see :func:`with_refresh_automation`), evaluated by ``refresh_automation_sensor``. Both schedules start
stopped and are switched on in the UI (Automation) or with ``dagster schedule start``.
"""

import dagster as dg

from poeconomy_assets.core.keys import name_from_key
from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.defs.jobs import daily_prices_job, pooled_model_job, training_job
from poeconomy_assets.defs.partitions import currency_partitions, league_partitions

REFRESHED_DOWNSTREAM = ["currency_features", "price_forecasts", "investment_report"]


def live_league_key(instance: dg.DagsterInstance) -> str | None:
    """The league partition registered last: the importer registers leagues oldest first."""
    keys = instance.get_dynamic_partitions(league_partitions.name)
    return keys[-1] if keys else None


@dg.schedule(job=daily_prices_job, cron_schedule="15 6 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED,
             description="Every day: daily prices of the live league, then (eagerly) its features, forecasts "
                         "and report.")
def daily_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    league = live_league_key(context.instance)
    if league is None:
        return dg.SkipReason("no league partition yet: import history first")
    day = context.scheduled_execution_time.date().isoformat() if context.scheduled_execution_time else "now"
    return dg.RunRequest(run_key=f"daily-{league}-{day}", partition_key=league,
                         tags={"poeconomy/league": name_from_key(league)})


@dg.schedule(job=training_job, cron_schedule="0 3 * * 1", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED,
             description="Every Monday: retrain every currency × horizon model and forecast with it.")
def weekly_retrain_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
    currencies = context.instance.get_dynamic_partitions(currency_partitions.name)
    if not currencies:
        return dg.SkipReason("no currency partition yet: import history first")
    week = context.scheduled_execution_time.strftime("%G-W%V") if context.scheduled_execution_time else "now"
    return [
        dg.RunRequest(run_key=f"retrain-{week}-{key}", partition_key=key)
        for key in (dg.MultiPartitionKey({"currency": c, "horizon": h}) for c in currencies for h in HORIZONS)
    ]


@dg.schedule(job=pooled_model_job, cron_schedule="0 2 * * 1", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED,
             description="Every Monday, an hour before the weekly retrain: one pooled search per horizon on the "
                         "week's features (the retrained currency models are built from these).")
def weekly_pooled_retrain_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    week = context.scheduled_execution_time.strftime("%G-W%V") if context.scheduled_execution_time else "now"
    return [dg.RunRequest(run_key=f"pooled-{week}-{h}", partition_key=h) for h in HORIZONS]


def with_refresh_automation(assets: list) -> list:
    """The assets, with ``eager`` automation on what the daily refresh must carry downstream."""
    return list(dg.map_asset_specs(
        lambda spec: spec.replace_attributes(automation_condition=dg.AutomationCondition.eager())
        if spec.key.to_user_string() in REFRESHED_DOWNSTREAM else spec,
        assets,
    ))


refresh_automation_sensor = dg.AutomationConditionSensorDefinition(
    "refresh_automation_sensor",
    target=dg.AssetSelection.assets(*REFRESHED_DOWNSTREAM),
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Carries the daily refresh from daily_prices to features, forecasts and the report.",
)

SCHEDULES = [daily_refresh_schedule, weekly_pooled_retrain_schedule, weekly_retrain_schedule]
