"""The whole graph on a small simulated market, in a real (temporary) Dagster instance."""

import dagster as dg
import polars as pl
import pytest

from poeconomy_assets.core.dumps import read_dump_dir
from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.core.schemas import HORIZONS

from .conftest import SMALL_MARKET, Materialized


def test_partitions_registered_from_the_dumps(materialized_graph: Materialized) -> None:
    imported = read_dump_dir(materialized_graph.dumps)
    instance = materialized_graph.instance
    assert sorted(instance.get_dynamic_partitions("league")) == sorted(key_from_name(x) for x in imported.leagues)
    assert sorted(instance.get_dynamic_partitions("currency")) == sorted(key_from_name(x) for x in imported.currencies)
    assert len(imported.leagues) == SMALL_MARKET.n_leagues


def test_daily_prices_hold_every_imported_row_once(materialized_graph: Materialized) -> None:
    imported = read_dump_dir(materialized_graph.dumps)
    files = list((materialized_graph.home / "data" / "daily_prices").glob("*.parquet"))
    stored = pl.concat([pl.read_parquet(f) for f in files])
    assert len(files) == SMALL_MARKET.n_leagues
    assert stored.height == imported.prices.height
    assert stored.select("league", "currency", "date").is_duplicated().sum() == 0


def test_one_model_and_forecast_per_currency_and_horizon(materialized_graph: Materialized) -> None:
    n_currencies = len(materialized_graph.outcome.currencies)
    manifests = list((materialized_graph.home / "data" / "price_models").rglob("*.json"))
    forecasts = pl.concat(
        [pl.read_parquet(f) for f in (materialized_graph.home / "data" / "price_forecasts").rglob("*.parquet")]
    )
    assert len(manifests) == n_currencies * len(HORIZONS)
    assert forecasts.select("currency", "horizon").unique().height == n_currencies * len(HORIZONS)
    # one forecast per league (from its latest day), positive and inside its own interval
    assert forecasts.height == n_currencies * len(HORIZONS) * SMALL_MARKET.n_leagues
    assert (forecasts["lower_80"] <= forecasts["forecast_chaos"]).all()
    assert (forecasts["forecast_chaos"] <= forecasts["upper_80"]).all()


def test_every_check_ran_and_passed(materialized_graph: Materialized) -> None:
    instance = materialized_graph.instance
    assert materialized_graph.outcome.failed_checks == []
    for check in ("daily_prices_schema", "currency_features_schema", "price_forecasts_schema"):
        records = instance.event_log_storage.get_asset_check_execution_history(
            check_key=next(k for k in materialized_graph.defs.resolve_asset_graph().asset_check_keys if k.name == check),
            limit=1000,
        )
        assert records, f"{check} never ran"


def test_reports_written_for_every_league(materialized_graph: Materialized) -> None:
    reports = list((materialized_graph.home / "reports").glob("*.html"))
    assert len(reports) == SMALL_MARKET.n_leagues
    html = reports[0].read_text()
    assert "data:image/png;base64," in html and "<table>" in html


def test_model_metadata_compares_with_persistence(materialized_graph: Materialized) -> None:
    records = materialized_graph.instance.fetch_materializations(dg.AssetKey("price_models"), limit=1000).records
    assert len(records) == len(materialized_graph.outcome.currencies) * len(HORIZONS)
    for record in records:
        metadata = record.asset_materialization.metadata
        mae_model, mae_persistence = metadata["mae_model"].value, metadata["mae_persistence"].value
        assert mae_persistence > 0
        assert metadata["mase"].value == pytest.approx(mae_model / mae_persistence, rel=1e-6)
        assert "persistence" in metadata["model_vs_persistence"].value
