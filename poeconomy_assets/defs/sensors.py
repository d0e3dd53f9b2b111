"""The two live sensors: a snapshot every 5 minutes that never piles up, and new leagues backfilled.

Both start STOPPED unless ``POECONOMY_POE_WATCH_URL`` is set (see ``defs/resources.py``).
"""

import json

import dagster as dg
from dagster import _time as dagster_time  # the clock Dagster's own freeze_time test utility controls

from poeconomy_assets.core.ingest.leagues import followed_leagues, parse_leagues
from poeconomy_assets.core.ingest.live_prices import SLOT_SECONDS, slot_key, slot_start
from poeconomy_assets.core.ingest.poe_watch_payloads import PayloadError
from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.defs.backfill import league_backfill_subset, new_league_currencies
from poeconomy_assets.defs.jobs import ingestion_job
from poeconomy_assets.defs.partitions import currency_partitions, league_partitions
from poeconomy_assets.defs.resources import live_sensor_status
from poeconomy_assets.resources.live_leagues import LiveLeagues
from poeconomy_assets.resources.poe_watch import PoeWatchClient, PoeWatchError

IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def followed_league_names(poe_watch: PoeWatchClient, live_leagues: LiveLeagues, log: object) -> list[str]:
    """Names of the running leagues the rules follow, newest first; raises PoeWatchError/PayloadError."""
    leagues, _ = parse_leagues(poe_watch.get_leagues(log=log).data)
    return [lg.name for lg in followed_leagues(leagues, dagster_time.get_current_datetime(), live_leagues.rules())]


@dg.sensor(
    job=ingestion_job,
    minimum_interval_seconds=SLOT_SECONDS,
    default_status=live_sensor_status(),
    description="Every 5 minutes: one poe_watch_snapshots + daily_prices run per followed live league; "
    "skips while an ingestion run is still queued or running, and while the API's circuit breaker is open.",
)
def ingestion_sensor(
    context: dg.SensorEvaluationContext, poe_watch: PoeWatchClient, live_leagues: LiveLeagues
) -> dg.SensorResult | dg.SkipReason:
    now = dagster_time.get_current_datetime()
    slot = slot_key(slot_start(now))
    in_flight = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=ingestion_job.name, statuses=IN_FLIGHT), limit=1
    )
    if in_flight:
        run = in_flight[0].dagster_run
        return dg.SkipReason(f"ingestion run {run.run_id[:8]} ({run.tags.get('dagster/partition')}) is still "
                             f"{run.status.value}; not queueing slot {slot} behind it")
    if poe_watch.breaker.status() == "open":
        return dg.SkipReason(f"circuit breaker for {poe_watch.base_url} is open: {poe_watch.breaker.state().last_error}")
    cursor = json.loads(context.cursor) if context.cursor else {}
    leagues, checked_at = cursor.get("leagues"), cursor.get("checked_at", 0.0)
    if leagues is None or now.timestamp() - checked_at >= live_leagues.refresh_seconds:
        try:
            leagues, checked_at = followed_league_names(poe_watch, live_leagues, context.log), now.timestamp()
        except (PoeWatchError, PayloadError) as exc:
            if leagues is None:
                return dg.SkipReason(f"cannot list POE Watch leagues yet: {exc}")
            context.log.warning(f"keeping the leagues known since {checked_at}: {exc}")
    new_cursor = json.dumps({"leagues": leagues, "checked_at": checked_at})
    existing = set(context.instance.get_dynamic_partitions(league_partitions.name))
    targets = [name for name in leagues if key_from_name(name) in existing]
    waiting = [name for name in leagues if key_from_name(name) not in existing]
    if not targets:
        return dg.SensorResult(skip_reason=f"no followed league has a partition yet (waiting for "
                               f"new_league_sensor: {', '.join(waiting) or 'none followed'})", cursor=new_cursor)
    requests = [
        dg.RunRequest(
            run_key=f"{key_from_name(name)}@{slot}",
            partition_key=key_from_name(name),
            run_config={"ops": {"poe_watch_snapshots": {"config": {"slot": slot}}}},
            tags={"poeconomy/slot": slot},
        )
        for name in targets
    ]
    return dg.SensorResult(run_requests=requests, cursor=new_cursor)


@dg.sensor(
    # The assets its backfills may cover (a sensor that launches backfills must declare them).
    asset_selection=["poe_watch_history", "daily_prices", "currency_features", "pooled_models", "price_models",
                     "price_forecasts", "investment_report"],
    minimum_interval_seconds=3600,
    default_status=live_sensor_status(),
    description="Hourly: when POE Watch lists a new followed league with currency data, adds its league and "
    "currency partitions and launches the backfill of its history, daily prices, features, models of currencies "
    "that have none, forecasts and report.",
)
def new_league_sensor(
    context: dg.SensorEvaluationContext, poe_watch: PoeWatchClient, live_leagues: LiveLeagues
) -> dg.SensorResult | dg.SkipReason:
    try:
        followed = followed_league_names(poe_watch, live_leagues, context.log)
    except (PoeWatchError, PayloadError) as exc:
        return dg.SkipReason(f"cannot list POE Watch leagues: {exc}")
    cursor = json.loads(context.cursor) if context.cursor else {}
    announced = set(cursor.get("announced", []))
    existing = set(context.instance.get_dynamic_partitions(league_partitions.name))
    new = [name for name in followed if key_from_name(name) not in existing and name not in announced]
    if not new:
        return dg.SkipReason(f"no new league; following {', '.join(followed) or 'none'}")
    known = set(context.instance.get_dynamic_partitions(currency_partitions.name))
    league_keys, currency_keys, requests, empty = [], set(), [], []
    for name in new:
        try:
            currencies = new_league_currencies(poe_watch, name, context.instance, context.log)
        except (PoeWatchError, PayloadError) as exc:
            context.log.warning(f"{name}: cannot read its currencies yet: {exc}")
            empty.append(name)
            continue
        if not currencies:  # the spec: confirm with a non-empty /get before switching
            empty.append(name)
            continue
        keys = [key_from_name(c) for c in currencies]
        league_keys.append(key_from_name(name))
        currency_keys |= {k for k in keys if k not in known}
        subset = league_backfill_subset(context.repository_def.asset_graph, context.instance,
                                        key_from_name(name), keys)
        requests.append(dg.RunRequest.for_asset_graph_subset(subset, tags={"poeconomy/new_league": name}))
        context.log.info(f"new league {name}: {len(keys)} currencies; backfill of {subset.num_partitions_and_non_partitioned_assets} partitions")
    if not league_keys:
        return dg.SkipReason(f"new league(s) without currency data yet: {', '.join(empty)}")
    partition_requests = [league_partitions.build_add_request(league_keys)]
    if currency_keys:
        partition_requests.append(currency_partitions.build_add_request(sorted(currency_keys)))
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=partition_requests,
        cursor=json.dumps({"announced": sorted(announced | set(new) - set(empty))}),
    )


SENSORS = [ingestion_sensor, new_league_sensor]
