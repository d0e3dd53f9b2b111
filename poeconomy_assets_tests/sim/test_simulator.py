from pathlib import Path

import polars as pl

from poeconomy_assets.core.ingest.dumps import league_catalog, read_dump_dir
from poeconomy_assets.core.schemas import DailyPrices
from poeconomy_assets.sim.simulator import SimulationConfig, simulate_prices, write_dumps


def test_same_seed_same_market_other_seed_other_market() -> None:
    config = SimulationConfig(n_leagues=3, n_currencies=5, seed=1)
    assert simulate_prices(config).equals(simulate_prices(config))
    assert not simulate_prices(config).equals(
        simulate_prices(SimulationConfig(n_leagues=3, n_currencies=5, seed=2))
    )


def test_written_dumps_import_cleanly_with_the_shape_of_real_leagues(tmp_path: Path) -> None:
    config = SimulationConfig(n_leagues=5, n_currencies=30, seed=4, missing_rate=0.05, late_share=0.3)
    files = write_dumps(config, tmp_path)
    imported = read_dump_dir(tmp_path)
    assert len(files) == 5 and imported.quarantine.height == 0
    DailyPrices.validate(imported.prices, lazy=True)
    catalog = league_catalog(imported.prices)
    assert (catalog["start_date"].shift(-1).drop_nulls() > catalog["end_date"].head(4)).all(), "no overlap"
    assert catalog["n_days"].min() >= config.min_days * 0.9
    per_league = imported.prices.group_by("league").agg(pl.col("currency").n_unique()).sort("league")
    assert per_league["currency"].to_list()[0] < 30 == per_league["currency"].max(), (
        "some currencies start later"
    )
    days = imported.prices.group_by("league", "currency").agg(pl.len(), pl.col("league_day").max())
    assert (days["len"] < days["league_day"] + 1).any(), "there are missing days"
    assert "Chaos Orb" not in imported.currencies and "Xoph's Breachstone" in imported.currencies


def test_large_market_has_the_requested_size() -> None:
    prices = simulate_prices(SimulationConfig(n_leagues=20, n_currencies=500, seed=9))
    assert prices["Get"].n_unique() == 500 and prices["League"].n_unique() == 20
    assert prices.height > 500_000 and (prices["Value"] > 0).all()
