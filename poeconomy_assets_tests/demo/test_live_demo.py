"""``poeconomy demo --live``'s live part: new league found, backfilled, ticked, against the local server."""

from pathlib import Path

import dagster as dg

from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.demo.live_demo import LIVE_LEAGUE, run_live_demo
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps


def test_live_demo_backfills_the_new_league_and_takes_one_snapshot_per_tick(tmp_path: Path) -> None:
    home, dumps = tmp_path / "home", tmp_path / "dumps"
    write_dumps(SimulationConfig(n_leagues=2, n_currencies=2, seed=2, min_days=20, max_days=21), dumps)
    defs = build_defs(build_resources(home, dumps))
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        assert defs.resolve_job_def("history_job").execute_in_process(instance=instance).success
        lines: list[str] = []
        outcome = run_live_demo(home, dumps, instance, n_currencies=2, ticks=2, log=lines.append)
        assert "Demo Live" in instance.get_dynamic_partitions("league")
        assert "Demo Live" in instance.get_materialized_partitions(dg.AssetKey("daily_prices"))
    assert len(outcome.ticks) == 2 and all(": 2 rows" in t for t in outcome.ticks)
    # about 20 earlier days from /history for each of 2 currencies, then 2 live snapshots each
    history_rows = outcome.snapshot_rows - 2 * 2
    assert history_rows % 2 == 0 and 19 <= history_rows // 2 <= 21
    assert any(LIVE_LEAGUE in line and "backfilled" in line for line in lines)
