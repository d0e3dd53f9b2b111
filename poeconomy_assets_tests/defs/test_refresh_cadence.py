"""The live league's refresh cadence, evaluated as refresh_automation_sensor would (dg.evaluate_automation_conditions
on a real temporary instance). Materializations are reported as runless events: the conditions read only the
instance's event log, so this checks what gets requested, in which order, without running the graph."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.partitions import register_partitions
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.defs.schedules import REFRESHED_DOWNSTREAM as REFRESHED

LEAGUES = ["Old One", "Old Two", "Live"]  # registered oldest first; "Live" is the followed league
MODELLED = ["Divine Orb", "Exalted Orb"]
NEW = "Orb of Alchemy"  # first seen in the live league: features, but no model yet
PAIRS = [f"{c}|{h}" for c in MODELLED for h in ("1d", "3d", "7d")]
DAY1, DAY2 = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)


def at(day: datetime, hhmm: str) -> datetime:
    return day.replace(hour=int(hhmm[:2]), minute=int(hhmm[3:]))


class Evaluator:
    def __init__(self, instance: dg.DagsterInstance, tmp: Path):
        self.instance = instance
        self.defs = build_defs(build_resources(tmp / "home", tmp / "dumps"))
        self.cursor = None

    def materialized(self, asset: str, partitions: list[str]) -> None:
        for partition in partitions:
            self.instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key=asset, partition=partition)
            )

    def requested(self, when: datetime) -> dict[str, set[str]]:
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.cursor, evaluation_time=when
        )
        self.cursor = result.cursor
        out = {
            name: {str(k) for k in result.get_requested_partitions(dg.AssetKey(name))} for name in REFRESHED
        }
        return {name: keys for name, keys in out.items() if keys}


@pytest.fixture
def graph(tmp_path: Path):
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        register_partitions(instance, LEAGUES, [*MODELLED, NEW])
        ev = Evaluator(instance, tmp_path)
        ev.materialized("daily_prices", LEAGUES)
        ev.materialized("currency_features", [*MODELLED, NEW])
        ev.materialized("price_models", PAIRS)
        ev.materialized("price_forecasts", PAIRS)
        ev.materialized("investment_report", LEAGUES)
        assert ev.requested(at(DAY1, "11:00")) == {}
        yield ev


def test_ingestion_ticks_trigger_only_the_live_leagues_daily_refresh_in_order(graph: Evaluator) -> None:
    # every 5-minute ingestion run rebuilds the live league's daily prices: nothing follows during the day
    for hhmm in ("12:00", "12:05", "23:55"):
        graph.materialized("daily_prices", ["Live"])
        assert graph.requested(at(DAY1, hhmm)) == {}, f"the {hhmm} tick must not trigger a refresh"
    # the cron tick (00:10) passed, but no price changed since it: still nothing
    assert graph.requested(at(DAY2, "00:11")) == {}
    # the first ingestion after the day's close: every currency's features, and nothing downstream yet
    graph.materialized("daily_prices", ["Live"])
    assert graph.requested(at(DAY2, "00:15")) == {"currency_features": {*MODELLED, NEW}}
    assert graph.requested(at(DAY2, "00:16")) == {}, "requested once per tick"
    # features in: forecasts of every currency × horizon that has a model (the new currency has none)
    graph.materialized("currency_features", [*MODELLED, NEW])
    assert graph.requested(at(DAY2, "00:20")) == {"price_forecasts": set(PAIRS)}
    # half the forecasts in: the report waits for all of them
    graph.materialized("price_forecasts", PAIRS[:3])
    graph.materialized("daily_prices", ["Live"])  # ingestion goes on meanwhile
    assert graph.requested(at(DAY2, "00:25")) == {}
    # every forecast in: the live league's report, never an ended league's
    graph.materialized("price_forecasts", PAIRS[3:])
    assert graph.requested(at(DAY2, "00:30")) == {"investment_report": {"Live"}}
    graph.materialized("investment_report", ["Live"])
    # the rest of the day: ingestion goes on, nothing else is recomputed
    for hhmm in ("00:35", "06:00", "23:55"):
        graph.materialized("daily_prices", ["Live"])
        assert graph.requested(at(DAY2, hhmm)) == {}


def test_an_ended_leagues_prices_never_refresh_the_live_report(graph: Evaluator) -> None:
    # only an ended league's daily prices are rebuilt (e.g. by hand): features and forecasts follow at the tick,
    # the report of that league may refresh, the live league's report may not (its prices did not change)
    graph.materialized("daily_prices", ["Old One"])
    assert graph.requested(at(DAY2, "00:15")) == {"currency_features": {*MODELLED, NEW}}
    graph.materialized("currency_features", [*MODELLED, NEW])
    assert graph.requested(at(DAY2, "00:20")) == {"price_forecasts": set(PAIRS)}
    graph.materialized("price_forecasts", PAIRS)
    assert graph.requested(at(DAY2, "00:25")) == {"investment_report": {"Old One"}}
