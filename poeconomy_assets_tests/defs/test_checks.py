"""The pandera check factory: failures are visible with their rows, and block downstream steps."""

import datetime as dt

import dagster as dg
import polars as pl

from poeconomy_assets.core.schemas import DailyPrices
from poeconomy_assets.defs.checks import schema_check_result, schema_check_spec


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


def test_failing_check_blocks_downstream_in_the_same_run() -> None:
    @dg.asset(check_specs=[schema_check_spec("daily_prices", DailyPrices)])
    def daily_prices() -> dg.MaterializeResult:
        bad = _prices(-1.0)
        return dg.MaterializeResult(check_results=[schema_check_result("daily_prices", DailyPrices, bad)])

    ran: list[str] = []

    @dg.asset(deps=[daily_prices])
    def downstream() -> None:
        ran.append("downstream")

    result = dg.materialize([daily_prices, downstream], raise_on_error=False)
    evaluations = result.get_asset_check_evaluations()
    assert [e.passed for e in evaluations] == [False]
    assert ran == []
    assert not result.success


def test_report_that_spends_more_than_the_budget_fails_its_check() -> None:
    from poeconomy_assets.core.schemas import InvestmentReport

    ranking = pl.DataFrame({"rank": [1, 2], "currency": ["Divine Orb", "Exalted Orb"], "price_chaos": [100.0, 3.0],
                            "price_divine": [1.0, 0.03], "weight": [0.6, 0.3], "allocation_chaos": [60.0, 30.0]})
    assert schema_check_result("investment_report", InvestmentReport, ranking).passed
    overspent = schema_check_result("investment_report", InvestmentReport, ranking.with_columns(weight=pl.lit(0.6)))
    assert not overspent.passed and "weights_never_exceed_the_budget" in overspent.metadata["failure_cases"].value
    duplicated = schema_check_result("investment_report", InvestmentReport, ranking.with_columns(rank=pl.lit(1)))
    assert not duplicated.passed and "rank" in duplicated.metadata["failure_cases"].value
