"""The whole graph on a small simulated market, in a real (temporary) Dagster instance."""

import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from poeconomy_assets.core.ingest.dumps import read_dump_dir
from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.core.schemas import HORIZON_DAYS, HORIZONS

from .conftest import SMALL_MARKET, Materialized


def test_partitions_registered_from_the_dumps(materialized_graph: Materialized) -> None:
    imported = read_dump_dir(materialized_graph.dumps)
    instance = materialized_graph.instance
    assert sorted(instance.get_dynamic_partitions("league")) == sorted(
        key_from_name(x) for x in imported.leagues
    )
    assert sorted(instance.get_dynamic_partitions("currency")) == sorted(
        key_from_name(x) for x in imported.currencies
    )
    assert len(imported.leagues) == SMALL_MARKET.n_leagues


def test_daily_prices_hold_every_imported_row_once(materialized_graph: Materialized) -> None:
    imported = read_dump_dir(materialized_graph.dumps)
    files = list((materialized_graph.home / "data" / "daily_prices").glob("*.parquet"))
    stored = pl.concat([pl.read_parquet(f) for f in files])
    assert len(files) == SMALL_MARKET.n_leagues
    assert stored.height == imported.prices.height
    assert stored.select("league", "currency", "date").is_duplicated().sum() == 0


def test_one_model_and_forecast_per_currency_and_horizon(materialized_graph: Materialized) -> None:
    n_currencies = len(materialized_graph.currencies)
    manifests = list((materialized_graph.home / "data" / "price_models").rglob("*.json"))
    forecasts = pl.concat(
        [
            pl.read_parquet(f)
            for f in (materialized_graph.home / "data" / "price_forecasts").rglob("*.parquet")
        ]
    )
    assert len(manifests) == n_currencies * len(HORIZONS)
    assert forecasts.select("currency", "horizon").unique().height == n_currencies * len(HORIZONS)
    # the last day of each earlier league, then every day of the latest league (past ones can be scored)
    latest = forecasts.sort("as_of")["league"][-1]
    per_pair = forecasts.group_by("currency", "horizon").agg(
        (pl.col("league") != latest).sum().alias("earlier"),
        (pl.col("league") == latest).sum().alias("latest"),
        pl.col("as_of").filter(pl.col("league") == latest).n_unique().alias("latest_days"),
    )
    assert (per_pair["earlier"] == SMALL_MARKET.n_leagues - 1).all()
    assert (per_pair["latest"] == per_pair["latest_days"]).all() and (per_pair["latest"] > 30).all()
    assert set(forecasts["forecast_source"]) <= {"model", "walk_forward", "in_sample"}
    assert forecasts.filter(pl.col("forecast_source") == "walk_forward").height > 0
    assert (forecasts["lower_95"] <= forecasts["lower_80"]).all() and (
        forecasts["lower_80"] <= forecasts["forecast_chaos"]
    ).all()
    assert (forecasts["forecast_chaos"] <= forecasts["upper_80"]).all() and (
        forecasts["upper_80"] <= forecasts["upper_95"]
    ).all()
    assert forecasts["interval_method"].is_not_null().all()
    divine = forecasts.filter(pl.col("price_divine").is_not_null())
    # the simulator leaves some days without a Divine Orb price: the latest earlier one (<= 3 days) stands in
    assert divine.height == forecasts.height, "every as-of day has a Divine Orb price at most 3 days old"
    assert (divine["price_divine"] - divine["price_chaos"] / divine["divine_chaos"]).abs().max() < 1e-12


def test_every_check_ran_and_passed(materialized_graph: Materialized) -> None:
    instance = materialized_graph.instance
    assert materialized_graph.outcome.failed_checks == []
    for check in (
        "poe_ninja_history_schema",
        "daily_prices_schema",
        "currency_features_schema",
        "price_forecasts_schema",
        "forecasts_are_consistent",
        "investment_report_schema",
    ):
        records = instance.event_log_storage.get_asset_check_execution_history(
            check_key=next(
                k for k in materialized_graph.defs.resolve_asset_graph().asset_check_keys if k.name == check
            ),
            limit=1000,
        )
        assert records, f"{check} never ran"


def test_reports_written_for_every_league(materialized_graph: Materialized) -> None:
    reports = list((materialized_graph.home / "reports").glob("*.html"))
    assert len(reports) == SMALL_MARKET.n_leagues
    records = materialized_graph.instance.fetch_materializations(
        dg.AssetKey("investment_report"), limit=10
    ).records
    metadata = records[0].asset_materialization.metadata
    html = (materialized_graph.home / "reports" / f"{records[0].partition_key}.html").read_text()
    # the fan chart, and the allocation chart when something clears the costs (else the page says what to hold)
    charts = 1 + (metadata["positions"].value > 0)
    assert html.count("data:image/png;base64,") == charts and "<table>" in html and "Allocation" in html
    for chart in ("forecast_fan", "allocation_chart"):
        assert metadata[chart].value.startswith("![")
    assert metadata["positions"].value >= 0 and metadata["divine_price_chaos"].value > 0


def test_scorecard_scores_the_live_league(materialized_graph: Materialized) -> None:
    records = materialized_graph.instance.fetch_materializations(
        dg.AssetKey("forecast_scorecard"), limit=10
    ).records
    assert len(records) == 1
    metadata = records[0].asset_materialization.metadata
    assert metadata["scored_forecasts"].value > 0
    assert 0.0 <= metadata["coverage_80_1d"].value <= 1.0
    card = pl.read_parquet(materialized_graph.home / "data" / "forecast_scorecard" / "__all__.parquet")
    assert card.height == len(materialized_graph.currencies) * len(HORIZONS)
    assert (card["n"] <= 14).all() and (card["n"] > 0).all()


def test_model_metadata_compares_with_persistence(materialized_graph: Materialized) -> None:
    records = materialized_graph.instance.fetch_materializations(
        dg.AssetKey("price_models"), limit=1000
    ).records
    assert len(records) == len(materialized_graph.currencies) * len(HORIZONS)
    for record in records:
        metadata = record.asset_materialization.metadata
        assert metadata["mae_persistence"].value > 0
        # The metadata describes the model on disk: the stored manifest holds the same validation scores
        # (rounded in the metadata for the reader).
        manifest = json.loads((Path(metadata["artifact_dir"].value) / "manifest.json").read_text())
        for key, digits in (("rel_mae", 4), ("mae_model", 6), ("mae_persistence", 6)):
            assert metadata[key].value == round(manifest["metrics"][key], digits), key
        assert "persistence" in metadata["model_vs_persistence"].value


def test_every_forecast_of_the_demo_is_one_consistent_distribution(materialized_graph: Materialized) -> None:
    """Every forecast the graph wrote (every currency, horizon and as-of date): quantiles in order, the 80%
    band inside the 95% band, the median as the point forecast, P(up) on the side of the bands where the
    price sits; and, as the report reads them (harmonized), no longer horizon surer than a shorter one."""
    from poeconomy_assets.core.uncertainty.distribution import consistency_problems, harmonize_horizons

    forecasts = pl.concat(
        [
            pl.read_parquet(p)
            for p in (materialized_graph.home / "data" / "price_forecasts").rglob("*.parquet")
        ]
    )
    assert forecasts.height > 100
    assert consistency_problems(forecasts) == []
    assert consistency_problems(harmonize_horizons(forecasts, HORIZON_DAYS), HORIZON_DAYS) == []


def _graph_forecasts(materialized_graph: Materialized) -> list[pl.DataFrame]:
    return [
        pl.read_parquet(p)
        for p in sorted((materialized_graph.home / "data" / "price_forecasts").rglob("*.parquet"))
    ]


def test_the_consistency_check_passed_on_every_forecast_written(materialized_graph: Materialized) -> None:
    """price_forecasts' own check ran in every run of it, on every row the run wrote (a run covers a range of
    currency × horizon partitions: batched runs)."""
    from poeconomy_assets.defs.checks import CONSISTENCY_CHECK

    key = dg.AssetCheckKey(dg.AssetKey("price_forecasts"), CONSISTENCY_CHECK)
    records = materialized_graph.instance.event_log_storage.get_asset_check_execution_history(
        key, limit=10_000
    )
    evaluations = [r.event.dagster_event.event_specific_data for r in records]
    # a check without partitions of its own: its runs' partition ranges together cover every forecast table once
    forecast_runs = {
        r.run_id
        for r in materialized_graph.instance.fetch_materializations(
            dg.AssetKey("price_forecasts"), limit=10_000
        ).records
    }
    assert {r.run_id for r in records} == forecast_runs
    assert all(e.passed for e in evaluations)
    assert sum(e.metadata["forecasts_checked"].value for e in evaluations) == sum(
        f.height for f in _graph_forecasts(materialized_graph)
    )
    assert {e.metadata["inconsistent_forecasts"].value for e in evaluations} == {0}


def test_a_broken_graph_forecast_fails_the_check_by_name(materialized_graph: Materialized) -> None:
    """A forecast table the graph wrote, two rows broken on purpose (an 80% band wider than the 95% band; P(up)
    on the wrong side of the median), fed to the function the check runs: it fails, naming both."""
    from poeconomy_assets.defs.checks import consistency_check_result

    forecasts = _graph_forecasts(materialized_graph)[0].with_row_index("_row")
    assert consistency_check_result("price_forecasts", forecasts).passed
    known = forecasts.filter(pl.col("prob_up").is_not_null() & (pl.col("_row") > 0)).row(-1, named=True)
    below = known["forecast_chaos"] < known["price_chaos"]
    broken = forecasts.with_columns(
        pl.when(pl.col("_row") == 0)
        .then(pl.col("lower_95") * 0.5)
        .otherwise(pl.col("lower_80"))
        .alias("lower_80"),
        pl.when(pl.col("_row") == known["_row"])
        .then(0.99 if below else 0.01)
        .otherwise(pl.col("prob_up"))
        .alias("prob_up"),
    )
    result = consistency_check_result("price_forecasts", broken)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["inconsistent_forecasts"].value == 2
    assert result.metadata["forecasts_checked"].value == forecasts.height
    problems = {r.data["problem"] for r in result.metadata["failure_cases"].value.records}
    side = "below the price but P(up) > 50%" if below else "above the price but P(up) < 50%"
    assert {"with an 80% band wider than the 95% band", f"with a median {side}"} <= problems, problems


def test_report_exports_and_ui_explain_their_numbers(materialized_graph: Materialized) -> None:
    import json

    from poeconomy_assets.core.report.glossary import GLOSSARY

    reports = materialized_graph.home / "reports"
    for page in reports.glob("*.html"):
        document = json.loads(page.with_suffix(".json").read_text())
        assert set(document["glossary"]) == set(GLOSSARY) and document["divine_chaos"] > 0
        assert (
            document["as_of"]
            and document["league"]
            and isinstance(document["currencies"][0]["price_chaos"], float)
        )
        csv = page.with_suffix(".csv").read_text()
        assert "# league:" in csv and "# P(gain):" in csv
        assert "Glossary" in page.read_text()
    record = materialized_graph.instance.fetch_materializations(
        dg.AssetKey("investment_report"), limit=1
    ).records[0]
    metadata = record.asset_materialization.metadata
    glossary = metadata["glossary"].value
    assert {r.data["term"] for r in glossary.records} == set(GLOSSARY)
    assert metadata["decision"].value and isinstance(metadata["top_currencies"], dg.TableMetadataValue)
    forecast = materialized_graph.instance.fetch_materializations(
        dg.AssetKey("price_forecasts"), limit=1
    ).records[0]
    forecast_metadata = forecast.asset_materialization.metadata
    assert isinstance(forecast_metadata["forecast_fan"], dg.TableMetadataValue)
    # no inline PNG in every partition's event (it was 54 KB each): the report draws the charts
    assert all("data:image/png" not in str(v.value) for v in forecast_metadata.values())


@pytest.mark.parametrize(
    "asset", ["daily_prices", "currency_features", "price_forecasts", "investment_report"]
)
def test_every_column_of_every_table_is_described_in_the_ui(
    materialized_graph: Materialized, asset: str
) -> None:
    record = materialized_graph.instance.fetch_materializations(dg.AssetKey(asset), limit=1).records[0]
    schema = record.asset_materialization.metadata["dagster/column_schema"].schema
    undescribed = [c.name for c in schema.columns if not c.description]
    assert len(schema.columns) > 5 and undescribed == []


def test_the_report_metadata_agrees_with_its_sentence(materialized_graph: Materialized) -> None:
    """Issue 20: the UI's top pick is the hold sentence's "best" (the largest gain after the round trip), with the
    same numbers; and it is the ranking table's row with the largest edge."""
    records = materialized_graph.instance.fetch_materializations(
        dg.AssetKey("investment_report"), limit=10
    ).records
    for record in records:
        metadata = record.asset_materialization.metadata
        top, decision = metadata["top_pick"].value, metadata["decision"].value
        name = top.split(" (")[0]
        ranking = pl.read_parquet(
            materialized_graph.home / "data" / "investment_report" / f"{record.partition_key}.parquet"
        )
        best = ranking.sort("edge", descending=True, nulls_last=True).row(0, named=True)
        assert name == best["currency"]
        assert f"{100 * best['edge']:+.2f}%" in top
        if decision.startswith("hold"):
            assert (
                f"the best, {name}, has a median gain after the round trip of {100 * best['edge']:+.2f}%"
                in decision
            )
