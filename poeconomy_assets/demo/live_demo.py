"""``poeconomy demo --live``: the live path end to end, in this process, against the local POE Watch server.

A new league appears on the server; new_league_sensor adds its partitions and its backfill runs (earlier
days from /history, daily prices, features, forecasts, report); then ingestion_sensor ticks a few times,
each tick a 5-minute slot (the demo moves the server's simulated time and the ``live_clock`` resource forward
together instead of waiting 5 minutes), and the league's features, forecasts and report are brought up to date
with the new snapshots.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from poeconomy_assets.core.ingest import GO_ZERO_TIME, SLOT_SECONDS
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.demo.in_process import GraphRunError, materialize_subset
from poeconomy_assets.resources.live_clock import LiveClock
from poeconomy_assets.resources.poe_watch import PoeWatchClient
from poeconomy_assets.sim.live_market import DEFAULT_LEAGUES, SimulatedMarket
from poeconomy_assets.sim.poe_watch_server import PoeWatchServer

LIVE_LEAGUE = "Demo Live"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the UI keeps every event


@dataclass
class LiveRun:
    league: str = LIVE_LEAGUE
    backfill_runs: int = 0
    ticks: list[str] = field(default_factory=list)  # one line per ingestion tick
    snapshot_rows: int = 0


def tick(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    name: str,
    cursor: str | None,
) -> "dg.SensorExecutionData":  # type: ignore[name-defined]
    """Evaluate one sensor tick the way the daemon does, and add the partitions it asks for."""
    sensor = defs.resolve_sensor_def(name)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
    )
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        data = sensor.evaluate_tick(context)
    for request in data.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return data


def run_live_demo(
    home: Path,
    dumps: Path,
    instance: dg.DagsterInstance,
    n_currencies: int,
    ticks: int,
    log: Callable[[str], None] = print,
) -> LiveRun:
    outcome = LiveRun()
    now = datetime.now(UTC)
    first_slot = now - timedelta(seconds=SLOT_SECONDS * ticks)
    league = {
        "name": LIVE_LEAGUE,
        "start_date": (now - timedelta(days=21)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_date": GO_ZERO_TIME,
    }
    market = SimulatedMarket(
        n_currencies=min(n_currencies, 16),
        seed=3,
        recompute_seconds=SLOT_SECONDS,
        leagues=[league, *DEFAULT_LEAGUES[2:]],
    )
    with PoeWatchServer(market, now=first_slot) as server:
        log(f"live: local POE Watch at {server.url} lists a new league, {LIVE_LEAGUE!r}")
        client = PoeWatchClient(
            base_url=server.url,
            min_interval_seconds=0.05,
            breaker_state_path=str(home / "poe_watch_breaker.demo.json"),
        )
        resources = build_resources(home, dumps, poe_watch=client)

        def defs_at(at: datetime) -> dg.Definitions:  # the graph, its live clock stopped at ``at``
            return build_defs({**resources, "live_clock": LiveClock.frozen(at)})

        defs = defs_at(first_slot)
        found = tick(defs, instance, "new_league_sensor", None)
        if not found.run_requests:
            raise GraphRunError(f"new_league_sensor found no new league: {found.skip_message}")
        subset = found.run_requests[0].asset_graph_subset
        outcome.backfill_runs = materialize_subset(defs, instance, subset).runs
        log(f"live: backfilled {LIVE_LEAGUE!r} from /history in {outcome.backfill_runs} runs")
        cursor = None
        for i in range(ticks):
            at = first_slot + timedelta(seconds=SLOT_SECONDS * i + 3)
            server.control({"now": at.isoformat()})  # the server and the live clock move together
            defs = defs_at(at)
            data = tick(defs, instance, "ingestion_sensor", cursor)
            cursor = data.cursor or cursor
            for request in data.run_requests:
                result = defs.resolve_job_def("ingestion_job").execute_in_process(
                    instance=instance,
                    partition_key=request.partition_key,
                    run_config={**QUIET, **(request.run_config or {})},
                    tags=request.tags,
                    raise_on_error=False,
                )
                if not result.success:
                    raise GraphRunError(f"ingestion run {request.run_key} failed (run {result.run_id})")
                meta = result.asset_materializations_for_node("poe_watch_snapshots")[0].metadata
                line = (
                    f"{request.run_key}: {meta['rows_inserted'].value} rows"
                    + (" (no-op, unchanged payload)" if meta["no_op"].value else "")
                    + f"; last 24 h: {meta['slots_24h'].value}, breaker {meta['circuit_breaker'].value}"
                )
                outcome.ticks.append(line)
                log(f"live: tick {i + 1}/{ticks} {line}")
        materialize_subset(defs, instance, subset)  # features, forecasts, report with today's prices
        outcome.snapshot_rows = defs.resources["price_store"].count_snapshots(LIVE_LEAGUE)
        forecasts = sum(
            1 for p in subset.iterate_asset_partitions() if p.asset_key.path[-1] == "price_forecasts"
        )
        log(
            f"live: {LIVE_LEAGUE!r} updated with {outcome.snapshot_rows} stored snapshot rows: features, "
            f"{forecasts} forecasts (currencies with trained models){' and its report' if forecasts else ''}; "
            f"the server answered {json.dumps(server.state()['requests'])}"
        )
    return outcome
