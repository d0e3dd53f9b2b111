"""The per-league investment report shown in the UI and written as a standalone HTML page."""

import time
from typing import Literal

import dagster as dg
import polars as pl

from poeconomy_assets.core.keys import name_from_key
from poeconomy_assets.core.report.allocation import AllocationRules
from poeconomy_assets.core.report.charts import allocation_chart_png, fan_chart_png
from poeconomy_assets.core.report.markdown import frame_to_markdown
from poeconomy_assets.core.report.report import (
    ReportSettings,
    build_report,
    latest_forecasts,
    png_markdown,
    report_html,
)
from poeconomy_assets.core.schemas import InvestmentReport
from poeconomy_assets.defs.checks import schema_check_result, schema_check_spec
from poeconomy_assets.defs.metadata import metric
from poeconomy_assets.defs.partitions import league_partitions
from poeconomy_assets.resources.report_store import ReportStore


class ReportConfig(dg.Config):
    """The budget to allocate and the rules of the allocation."""

    # Defaults come from the core dataclasses (AllocationRules, ReportSettings), which document each field.
    budget: float = AllocationRules.budget
    budget_unit: Literal["chaos", "divine"] = AllocationRules.budget_unit
    max_position_share: float = AllocationRules.max_position_share  # cap per currency, as a share of the budget
    min_liquidity: float = AllocationRules.min_liquidity  # 0..1: last 14 days priced × share not low-confidence
    min_prob_gain: float = AllocationRules.min_prob_gain
    max_positions: int = AllocationRules.max_positions
    rank_horizon: Literal["1d", "3d", "7d"] = ReportSettings.rank_horizon
    correlation_days: int = ReportSettings.correlation_days  # diversification: correlation of daily returns
    chart_currencies: int = ReportSettings.chart_currencies  # forecast fans drawn for this many top currencies

    def settings(self) -> ReportSettings:
        rules = AllocationRules(budget=self.budget, budget_unit=self.budget_unit,
                                max_position_share=self.max_position_share, min_liquidity=self.min_liquidity,
                                min_prob_gain=self.min_prob_gain, max_positions=self.max_positions)
        return ReportSettings(rules=rules, rank_horizon=self.rank_horizon, correlation_days=self.correlation_days,
                              chart_currencies=self.chart_currencies)


def _fraction(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f}"


@dg.asset(
    group_name="reports",
    partitions_def=league_partitions,
    ins={"price_forecasts": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    kinds={"html"},
    check_specs=[schema_check_spec("investment_report", InvestmentReport)],
)
def investment_report(
    context: dg.AssetExecutionContext,
    config: ReportConfig,
    price_forecasts: pl.DataFrame,
    daily_prices: pl.DataFrame,
    report_store: ReportStore,
):  # no return annotation: Dagster would read it as the type of every output, check outputs included
    """What to buy in one league: per currency and horizon expected return, P(gain), downside, volatility,
    liquidity, a risk-adjusted score, an allocation of the budget, rebalancing triggers; chaos and divines."""
    league = name_from_key(context.partition_key)
    started = time.perf_counter()
    report = build_report(league, price_forecasts, daily_prices, config.settings())
    latest = latest_forecasts(price_forecasts.filter(pl.col("league") == league))
    top = report.ranking.head(report.settings.chart_currencies)["currency"].to_list()
    charts = {
        "Price history and forecast fan": fan_chart_png(daily_prices, latest, top, report.divine_price_chaos),
        "Allocation": allocation_chart_png(report.allocation, report.cash_chaos, report.divine_price_chaos),
    }
    path = report_store.write(league, "html", report_html(report, charts))
    seconds = time.perf_counter() - started
    allocation = report.allocation
    context.log.info(f"report for {league} as of {report.as_of}: {report.ranking.height} currencies, "
                     f"{allocation.height} positions, {report.triggers.height} triggers → {path}")
    best = report.ranking.row(0, named=True)
    rank = report.settings.rank_horizon  # the configured one, or the longest horizon forecast so far
    return dg.MaterializeResult(
        value=report.ranking,
        metadata={
            "league": league,
            "as_of": report.as_of,
            "currencies": report.ranking.height,
            "divine_price_chaos": metric(report.divine_price_chaos),
            "budget": f"{config.budget:g} {config.budget_unit}",
            "positions": allocation.height,
            "cash_left_chaos": round(report.cash_chaos, 4),
            "top_pick": f"{best['currency']} ({best.get(f'return_{rank}_pct')}% over "
                        f"{rank}, P(gain) {_fraction(best.get(f'p_gain_{rank}'))})",
            "rebalancing_triggers": report.triggers.height,
            "forecast_fan": dg.MetadataValue.md(png_markdown(charts["Price history and forecast fan"], "forecast fan")),
            "allocation_chart": dg.MetadataValue.md(png_markdown(charts["Allocation"], "allocation")),
            "allocation": dg.MetadataValue.md(frame_to_markdown(allocation)),
            "triggers": dg.MetadataValue.md(frame_to_markdown(report.triggers, max_rows=30)),
            "ranking": dg.MetadataValue.md(report.markdown()),
            "html_report": dg.MetadataValue.path(str(path)),
            "seconds": round(seconds, 3),
        },
        check_results=[schema_check_result("investment_report", InvestmentReport, report.ranking)],
    )
