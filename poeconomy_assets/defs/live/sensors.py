"""The two live sensors: a snapshot every 5 minutes that never piles up, and new leagues backfilled.

Both start STOPPED unless ``POECONOMY_POE_WATCH_URL`` is set (see ``defs/resources.py``). Time comes from the
``live_clock`` resource (the wall clock in production).
"""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import dagster as dg

from poeconomy_assets.core.ingest import (
    CATEGORIES,
    CurrencyResolver,
    PayloadError,
    SourceError,
    followed_leagues,
    name_problem,
    parse_items,
    parse_leagues,
    slot_start,
)
from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.defs.backfill import asset_backfill_request, league_backfill_partitions
from poeconomy_assets.defs.jobs import BATCH, ingestion_job
from poeconomy_assets.defs.live.slot_ledger import IN_FLIGHT, SlotLedger
from poeconomy_assets.defs.partitions import currency_partitions, known_currencies, league_partitions
from poeconomy_assets.defs.resources import live_clock_from_env, live_sensor_status
from poeconomy_assets.defs.selection import NEW_LEAGUE
from poeconomy_assets.resources.live_clock import LiveClock
from poeconomy_assets.resources.live_leagues import LiveLeagues
from poeconomy_assets.resources.price_source import PriceSource


def live_sensor(description: str, **sensor_args: Any) -> Callable[[Callable[..., Any]], dg.SensorDefinition]:
    """``@dg.sensor`` for a sensor that follows POE Watch, what it does first: it starts RUNNING only where a
    POE Watch URL was given (``live_sensor_status``), STOPPED otherwise."""
    return dg.sensor(description=description, default_status=live_sensor_status(), **sensor_args)


def followed_league_names(
    poe_watch: PriceSource, live_leagues: LiveLeagues, live_clock: LiveClock, log: object
) -> list[str]:
    """Names of the running leagues the rules follow, newest first; raises SourceError/PayloadError."""
    problems: list[str] = []
    leagues, _ = parse_leagues(poe_watch.get_leagues(log=log).data, problems=problems)
    for problem in problems[:20]:  # skipped, never followed: the valid leagues go on
        log.warning(f"skipped a POE Watch league: {problem}")
    return [lg.name for lg in followed_leagues(leagues, live_clock.now(), live_leagues.rules())]


def new_league_currencies(
    poe_watch: PriceSource, league: str, instance: dg.DagsterInstance, now: datetime, log: object
) -> list[str]:
    """Canonical names of the currencies and fragments POE Watch lists for ``league`` (near misses left out)."""
    resolver = CurrencyResolver(known_currencies(instance))
    names: set[str] = set()
    for category in CATEGORIES:
        data = poe_watch.get_items(league, category, log=log).data
        parsed = parse_items(
            data,
            league=league,
            category=category,
            snapshot_at=slot_start(now),
            payload_hash="",
            resolver=resolver,
        )
        names |= set(parsed.rows["currency"].to_list())
    return sorted(names)


@live_sensor(
    "Every 5-minute slot: one poe_watch_snapshots + daily_prices run per followed live league; "
    "skips while an ingestion run is still queued or running, and while the API's circuit breaker is open. "
    "Slots that were skipped or whose run failed are handed to the next run, which refills what it can.",
    job=ingestion_job,
    # Two ticks per 5-minute slot of the live clock (150 s on the wall clock; less on an accelerated clock; 2 s on
    # a stepped one, see LiveClock.slot_wall_seconds), so every slot's run is requested in its first half however
    # the daemon's ticks drift; the run key (league@slot) makes the second tick of a slot a no-op.
    minimum_interval_seconds=max(1, round(live_clock_from_env().slot_wall_seconds() / 2)),
)
def ingestion_sensor(
    context: dg.SensorEvaluationContext,
    poe_watch: PriceSource,
    live_leagues: LiveLeagues,
    live_clock: LiveClock,
) -> dg.SensorResult | dg.SkipReason:
    now = live_clock.now()
    slot = slot_start(now)
    cursor = json.loads(context.cursor) if context.cursor else {}
    leagues, checked_at = cursor.get("leagues"), cursor.get("checked_at", 0.0)
    if (
        leagues is not None
    ):  # a cursor written before league names were validated may hold one no key can carry
        leagues = [name for name in leagues if isinstance(name, str) and name_problem(name) is None]
    ledger = SlotLedger.from_cursor(cursor.get("slots", {}))

    def result(skip: str | None = None, requests: list[dg.RunRequest] | None = None) -> dg.SensorResult:
        state = {"leagues": leagues, "checked_at": checked_at, "slots": ledger.to_cursor()}
        return dg.SensorResult(run_requests=requests, skip_reason=skip, cursor=json.dumps(state))

    existing = set(context.instance.get_dynamic_partitions(league_partitions.name))
    refused = poe_watch.refusing_calls()  # e.g. an open circuit breaker: no call at all, not even /leagues
    if refused:
        reason = f"skipped: {refused}"
        ledger.skip([name for name in leagues or [] if key_from_name(name) in existing], slot, reason)
        return result(f"{reason} for {poe_watch.location()}; slot {slot:%H:%M} is handed to the next run")
    if leagues is None or now.timestamp() - checked_at >= live_leagues.refresh_seconds:
        try:
            leagues, checked_at = (
                followed_league_names(poe_watch, live_leagues, live_clock, context.log),
                now.timestamp(),
            )
        except (SourceError, PayloadError) as exc:
            if leagues is None:
                return dg.SkipReason(f"cannot list POE Watch leagues yet: {exc}")
            context.log.warning(f"keeping the leagues known since {checked_at}: {exc}")
    targets = [name for name in leagues if key_from_name(name) in existing]
    waiting = [name for name in leagues if key_from_name(name) not in existing]
    if not targets:
        return result(
            f"no followed league has a partition yet (waiting for new_league_sensor: "
            f"{', '.join(waiting) or 'none followed'})"
        )
    in_flight = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=ingestion_job.name, statuses=IN_FLIGHT), limit=1
    )
    if in_flight:
        run = in_flight[0].dagster_run
        reason = (
            f"skipped: ingestion run {run.run_id[:8]} ({run.tags.get('dagster/partition')}, slot "
            f"{run.tags.get('poeconomy/slot')}) was still {run.status.value}"
        )
        ledger.skip(targets, slot, reason)
        return result(f"{reason}; not queueing slot {slot:%H:%M} behind it (the next run refills it)")
    requests = []
    for name in targets:
        missed = ledger.settle(context.instance, name, slot)
        requests.append(ledger.request(name, slot, missed))
    return result(requests=requests)


@live_sensor(
    "Hourly: when POE Watch lists a new followed league with currency data, adds its league and "
    "currency partitions and launches the backfill of its history, daily prices, features, models of currencies "
    "that have none, forecasts and report.",
    # The assets its backfills may cover (a sensor that launches backfills must declare them).
    asset_selection=NEW_LEAGUE,
    minimum_interval_seconds=3600,
)
def new_league_sensor(
    context: dg.SensorEvaluationContext,
    poe_watch: PriceSource,
    live_leagues: LiveLeagues,
    live_clock: LiveClock,
) -> dg.SensorResult | dg.SkipReason:
    try:
        followed = followed_league_names(poe_watch, live_leagues, live_clock, context.log)
    except (SourceError, PayloadError) as exc:
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
            currencies = new_league_currencies(
                poe_watch, name, context.instance, live_clock.now(), context.log
            )
        except (SourceError, PayloadError) as exc:
            context.log.warning(f"{name}: cannot read its currencies yet: {exc}")
            empty.append(name)
            continue
        if not currencies:  # the spec: confirm with a non-empty /get before switching
            empty.append(name)
            continue
        keys = [key_from_name(c) for c in currencies]
        league_keys.append(key_from_name(name))
        currency_keys |= {k for k in keys if k not in known}
        partitions = league_backfill_partitions(
            context.instance, context.repository_def.asset_graph, key_from_name(name), keys
        )
        requests.append(
            asset_backfill_request(
                context.repository_def.asset_graph, partitions, tags={**BATCH, "poeconomy/new_league": name}
            )
        )
        context.log.info(
            f"new league {name}: {len(keys)} currencies; backfill of {len(partitions)} partitions"
        )
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
