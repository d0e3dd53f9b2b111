"""backtest_scorecard: the latest league held out, scored with coverage, shown with a chart."""

import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from poeconomy_assets.core.ingest.dumps import read_dump_dir
from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.definitions import ASSET_MODULES
from poeconomy_assets.defs.partitions import register_partitions
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

# Four leagues: the last is held out, and the three before it leave one walk-forward fold.
MARKET = SimulationConfig(n_leagues=4, n_currencies=2, seed=13, min_days=40, max_days=45, late_share=0.0)


def test_backtest_scorecard_holds_out_the_latest_league(tmp_path: Path) -> None:
    dumps, home = tmp_path / "dumps", tmp_path / "home"
    write_dumps(MARKET, dumps)
    prices = read_dump_dir(dumps).prices
    for (league,), rows in prices.group_by("league"):  # daily_prices partitions, as the graph stores them
        path = home / "data" / "daily_prices" / f"{key_from_name(league)}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows.write_parquet(path)
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        register_partitions(instance, read_dump_dir(dumps).leagues, [])
        result = dg.materialize(
            dg.load_assets_from_modules(ASSET_MODULES),
            selection=["backtest_scorecard"],
            resources=build_resources(home, dumps),
            instance=instance,
            run_config={"ops": {"backtest_scorecard": {"config": {"profile": "test", "horizons": ["1d"]}}}},
        )
        assert result.success
        card = result.output_for_node("backtest_scorecard")
        metadata = result.get_asset_materialization_events()[0].materialization.metadata
    latest = prices.sort("date")["league"][-1]
    assert card["test_league"] == latest and latest not in card["train_leagues"]
    one_day = card["horizons"]["1d"]
    assert 0.0 < one_day["coverage_80"] <= one_day["coverage_95"] <= 1.0
    assert set(one_day["per_currency"]) == set(prices["currency"].unique())
    assert metadata["chart"].value.startswith("![backtest scorecard](data:image/png;base64,")
    assert metadata["rel_mae_1d"].value == pytest.approx(one_day["rel_mae"], rel=1e-3)  # rounded to 4 digits
    strategy = card["strategy"]  # following the report on the held-out league, day by day at 1d
    assert strategy["horizon"] == "1d" and strategy["hold_chaos_return"] == 0.0 and strategy["periods"] > 20
    assert metadata["strategy_trades"].value == len(strategy["trades"])
    assert "holding chaos" in metadata["track_record"].value
    assert isinstance(metadata["strategy_curve"], dg.TableMetadataValue)
    stored = json.loads((home / "reports" / f"{key_from_name('Track record')}.json").read_text())
    assert stored["test_league"] == latest and stored["strategy"]["trades"] == strategy["trades"]
    assert pl.DataFrame(card["horizons"]["1d"]["per_currency"]).width == 2
