"""The check factories (pandera schema, forecast consistency): failures are visible with their rows, and block
downstream steps."""

import datetime as dt

import dagster as dg
import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.schemas import DailyPrices
from poeconomy_assets.core.uncertainty.distribution import knots_from_halfwidths, with_knots
from poeconomy_assets.defs.checks import (
    CONSISTENCY_CHECK,
    consistency_check_result,
    consistency_check_spec,
    schema_check_result,
    schema_check_spec,
)


def _prices(price: float, confidence: str = "High") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "league": ["L", "L"],
            "currency": ["Divine Orb", "Exalted Orb"],
            "date": [dt.date(2021, 1, 1)] * 2,
            "league_day": [0, 0],
            "price_chaos": [100.0, price],
            "price_divine": [1.0, None],
            "confidence": ["High", confidence],
            "source": ["poe.ninja"] * 2,
        }
    )


def test_valid_table_passes() -> None:
    assert schema_check_result("daily_prices", DailyPrices, _prices(3.0)).passed


def test_failure_names_column_and_value() -> None:
    result = schema_check_result("daily_prices", DailyPrices, _prices(-3.0, confidence="Sometimes"))
    assert not result.passed
    assert result.metadata["failure_count"].value == 2
    table = result.metadata["failure_cases"].value
    assert "price_chaos" in table and "-3.0" in table and "Sometimes" in table


def _forecasts() -> pl.DataFrame:
    """Five consistent forecasts (P(up) read from the distribution): median above, below and at the price, the
    price below the 95% band (D) and above it (E)."""
    centers = np.array([0.03, -0.02, 0.0, 0.5, -0.3])
    knots = knots_from_halfwidths(centers, [0.02] * 5, [0.05] * 5, [0.10] * 5)
    frame = pl.DataFrame(
        {
            "currency": list("ABCDE"),
            "horizon": "7d",
            "as_of": dt.date(2024, 1, 1),
            "price_chaos": [1.0, 10.0, 100.0, 5.0, 0.5],
            "prob_up": 0.5,
            "prob_up_reason": pl.Series([None] * 5, dtype=pl.Utf8),
        }
    )
    return with_knots(frame, knots)


def _broken(currency: str, **values: float) -> pl.DataFrame:
    frame = _forecasts()
    return frame.with_columns(
        pl.when(pl.col("currency") == currency).then(pl.lit(v)).otherwise(pl.col(c)).alias(c)
        for c, v in values.items()
    )


def test_consistent_forecasts_pass() -> None:
    result = consistency_check_result("price_forecasts", _forecasts())
    assert result.passed and result.metadata["forecasts_checked"].value == 5
    assert result.metadata["inconsistent_forecasts"].value == 0 and "failure_cases" not in result.metadata


@pytest.mark.parametrize(
    "currency, values, problem",
    [
        ("B", {"lower_80": 0.5}, "with an 80% band wider than the 95% band"),  # B's 95% band starts at ~8.8
        ("A", {"prob_up": 0.2}, "with a median above the price but P(up) < 50%"),
        ("D", {"prob_up": 0.6}, "priced below the 95% band but P(up) < 97.5%"),
        ("E", {"prob_up": 0.05}, "priced above the 95% band but P(up) > 2.5%"),
    ],
)
def test_each_contradiction_fails_the_check_by_name(currency: str, values: dict, problem: str) -> None:
    result = consistency_check_result("price_forecasts", _broken(currency, **values))
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert (
        result.metadata["forecasts_checked"].value == 5
        and result.metadata["inconsistent_forecasts"].value == 1
    )
    rows = {r.data["problem"]: r.data for r in result.metadata["failure_cases"].value.records}
    assert problem in rows, rows
    assert rows[problem]["currency"] == currency and rows[problem]["forecasts"] == 1
    assert problem in (result.description or "")


def test_the_consistency_check_is_declared_blocking_on_price_forecasts() -> None:
    from poeconomy_assets.defs.forecasts import price_forecasts

    specs = {s.name: s for s in price_forecasts.check_specs}
    assert specs[CONSISTENCY_CHECK].blocking and specs["price_forecasts_schema"].blocking


@pytest.mark.parametrize(
    "spec, result, named",
    [
        (
            schema_check_spec("daily_prices", DailyPrices),
            lambda: schema_check_result("daily_prices", DailyPrices, _prices(-1.0)),
            "price_chaos",
        ),
        (
            consistency_check_spec("daily_prices"),
            lambda: consistency_check_result("daily_prices", _broken("A", prob_up=0.2)),
            "problem: with a median above the price but P(up) < 50%, forecasts: 1, currency: A",
        ),
    ],
)
def test_failing_check_blocks_downstream_in_the_same_run(spec: dg.AssetCheckSpec, result, named: str) -> None:
    """... and the demo's error message (demo.in_process.explain) shows what failed, table or markdown."""
    from poeconomy_assets.demo.in_process import explain as _explain

    @dg.asset(check_specs=[spec])
    def daily_prices() -> dg.MaterializeResult:
        return dg.MaterializeResult(check_results=[result()])

    ran: list[str] = []

    @dg.asset(deps=[daily_prices])
    def downstream() -> None:
        ran.append("downstream")

    outcome = dg.materialize([daily_prices, downstream], raise_on_error=False)
    evaluations = outcome.get_asset_check_evaluations()
    assert [e.passed for e in evaluations] == [False]
    assert ran == []
    assert not outcome.success
    assert named in _explain("a_job", [], outcome)


def test_report_that_spends_more_than_the_budget_fails_its_check() -> None:
    from poeconomy_assets.core.schemas import InvestmentReport

    ranking = pl.DataFrame(
        {
            "rank": [1, 2],
            "currency": ["Divine Orb", "Exalted Orb"],
            "price_chaos": [100.0, 3.0],
            "price_divine": [1.0, 0.03],
            "weight": [0.6, 0.3],
            "allocation_chaos": [60.0, 30.0],
        }
    )
    assert schema_check_result("investment_report", InvestmentReport, ranking).passed
    overspent = schema_check_result(
        "investment_report", InvestmentReport, ranking.with_columns(weight=pl.lit(0.6))
    )
    assert (
        not overspent.passed
        and "weights_never_exceed_the_budget" in overspent.metadata["failure_cases"].value
    )
    duplicated = schema_check_result(
        "investment_report", InvestmentReport, ranking.with_columns(rank=pl.lit(1))
    )
    assert not duplicated.passed and "rank" in duplicated.metadata["failure_cases"].value
