"""A small simulated market materialized through the whole graph, shared by the defs tests."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.defs.selection import MAIN_GRAPH, PAST_LEAGUES
from poeconomy_assets.demo.in_process import GraphRun, materialize_in_process
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

SMALL_MARKET = SimulationConfig(n_leagues=3, n_currencies=4, seed=11, min_days=40, max_days=50)
TEST_PROFILE = {
    "ops": {"pooled_models": {"config": {"profile": "test"}}, "price_models": {"config": {"profile": "test"}}}
}


@dataclass
class Materialized:
    home: Path
    dumps: Path
    defs: dg.Definitions
    instance: dg.DagsterInstance
    outcome: GraphRun

    @property
    def currencies(self) -> list[str]:
        return sorted(self.instance.get_dynamic_partitions("currency"))


@pytest.fixture(scope="module")
def materialized_graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Materialized]:
    root = tmp_path_factory.mktemp("graph")
    dumps, home = root / "dumps", root / "home"
    write_dumps(SMALL_MARKET, dumps)
    defs = build_defs(build_resources(home, dumps))
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        outcome = materialize_in_process(
            defs,
            instance,
            PAST_LEAGUES | MAIN_GRAPH,
            TEST_PROFILE,
            log=lambda _: None,
            one_run_per_asset=False,
        )  # runs cut as a backfill cuts them
        yield Materialized(home, dumps, defs, instance, outcome)


LIVE_PAST = SimulationConfig(n_leagues=3, n_currencies=2, seed=13, min_days=30, max_days=32)


@dataclass
class Live:
    home: Path
    resources: dict
    instance: dg.DagsterInstance
    server: object  # PoeWatchServer
    tmp: Path

    @property
    def defs(self) -> dg.Definitions:
        """The graph with the live clock frozen at the server's simulated time (tests move both together)."""
        from poeconomy_assets.resources.live_clock import LiveClock

        return build_defs({**self.resources, "live_clock": LiveClock.frozen(self.server.clock.now())})

    def store(self):
        return self.resources["price_store"]


@pytest.fixture
def live(tmp_path: Path, poe_watch_server) -> Iterator[Live]:
    """Past leagues imported (history_job), the local POE Watch server, and a temporary Dagster instance."""
    from ..conftest import fast_client

    dumps, home = tmp_path / "dumps", tmp_path / "home"
    write_dumps(LIVE_PAST, dumps)
    client = fast_client(poe_watch_server.url, tmp_path, read_timeout_seconds=2.0)
    resources = build_resources(home, dumps, poe_watch=client)
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        live = Live(home, resources, instance, poe_watch_server, tmp_path)
        assert live.defs.resolve_job_def("history_job").execute_in_process(instance=instance).success
        yield live
