"""The per-league investment report shown in the UI and written as a standalone HTML page."""

import json
import time
from typing import Literal

import dagster as dg
import polars as pl

from poeconomy_assets.core.keys import name_from_key
from poeconomy_assets.core.report import (
    GLOSSARY,
    AllocationRules,
    ReportSettings,
    allocation_chart_png,
    build_report,
    fan_chart_png,
    latest_forecasts,
    pct_text,
    png_markdown,
    price_text,
    prob_text,
    report_csv,
    report_html,
    report_json,
    track_record_sentence,
)
from poeconomy_assets.core.schemas import HORIZON_DAYS, InvestmentReport
from poeconomy_assets.core.uncertainty import harmonize_horizons
from poeconomy_assets.defs.batching import ONE_RUN, partition_metadata, run_partition_keys, run_value
from poeconomy_assets.defs.checks import schema_check_each, schema_check_spec
from poeconomy_assets.defs.partitions import league_partitions
from poeconomy_assets.defs.ui_metadata import number, table_value
from poeconomy_assets.resources.parquet_io_manager import ByPartition
from poeconomy_assets.resources.report_store import ReportStore


class ReportConfig(dg.Config):
    """The budget to allocate and the rules of the allocation (see core.report.allocation)."""

    # Defaults come from the core dataclasses (AllocationRules, ReportSettings), which document each field.
    budget: float = AllocationRules.budget
    budget_unit: Literal["chaos", "divine"] = AllocationRules.budget_unit
    max_position_share: float = (
        AllocationRules.max_position_share
    )  # cap per currency, as a share of the budget
    min_liquidity: float = (
        AllocationRules.min_liquidity
    )  # 0..1: last 14 days priced × share not low-confidence
    min_prob_gain: float = AllocationRules.min_prob_gain  # P(gain after costs) must exceed this
    min_edge: float = (
        AllocationRules.min_edge
    )  # median return after costs at the ranking horizon; below: hold chaos
    fee: float = ReportSettings.fee  # round-trip cost assumed where the prices carry no buy side
    max_positions: int = AllocationRules.max_positions
    rank_horizon: Literal["1d", "3d", "7d"] = ReportSettings.rank_horizon
    correlation_days: int = ReportSettings.correlation_days  # diversification: correlation of daily returns
    chart_currencies: int = (
        ReportSettings.chart_currencies
    )  # forecast fans drawn for this many top currencies

    def settings(self) -> ReportSettings:
        rules = AllocationRules(
            budget=self.budget,
            budget_unit=self.budget_unit,
            max_position_share=self.max_position_share,
            min_liquidity=self.min_liquidity,
            min_prob_gain=self.min_prob_gain,
            min_edge=self.min_edge,
            max_positions=self.max_positions,
        )
        return ReportSettings(
            rules=rules,
            rank_horizon=self.rank_horizon,
            correlation_days=self.correlation_days,
            chart_currencies=self.chart_currencies,
            fee=self.fee,
        )


TRACK_RECORD = (
    "Track record"  # report_store name of the latest backtest's track record (see backtest_scorecard)
)


def read_track_record(report_store: ReportStore) -> dict | None:
    """The latest backtest's track record (test league + strategy), when backtest_scorecard has run."""
    path = report_store.path(TRACK_RECORD, "json")
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    except (OSError, json.JSONDecodeError):
        return None


@dg.asset(
    group_name="reports",
    partitions_def=league_partitions,
    ins={"price_forecasts": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    backfill_policy=ONE_RUN,  # every league's report in one run: the forecasts are read once
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
    """What to buy in one league, how much and how sure: per currency and horizon the median return, P(gain)
    after costs, 80%/95% ranges and downside from one forecast distribution; liquidity, a risk-adjusted score,
    an allocation of the budget (or "hold chaos" and why), rebalancing triggers; chaos and divines. Also
    written as HTML, JSON and CSV (see ``poeconomy report``). One report per league of the run."""
    rankings = ByPartition()
    for key in run_partition_keys(context):
        league = name_from_key(key)
        rankings[key], metadata = league_report(
            league,
            config,
            price_forecasts,
            daily_prices.filter(pl.col("league") == league),
            report_store,
            context,
        )
        partition_metadata(context, key, metadata)
    return dg.MaterializeResult(
        value=run_value(rankings),
        metadata={"leagues_in_run": len(rankings)},
        check_results=[schema_check_each("investment_report", InvestmentReport, rankings)],
    )


def league_report(
    league: str,
    config: ReportConfig,
    price_forecasts: pl.DataFrame,
    daily_prices: pl.DataFrame,
    report_store: ReportStore,
    context: dg.AssetExecutionContext,
) -> tuple[pl.DataFrame, dict]:
    """One league's report written as HTML, JSON and CSV; (its ranking, its partition's metadata)."""
    started = time.perf_counter()
    report = build_report(league, price_forecasts, daily_prices, config.settings())
    latest = harmonize_horizons(
        latest_forecasts(price_forecasts.filter(pl.col("league") == league)), HORIZON_DAYS
    )
    top = report.ranking.head(report.settings.chart_currencies)["currency"].to_list()
    charts = {
        "Price history and forecast fan": fan_chart_png(
            daily_prices.filter(pl.col("league") == league), latest, top, report.divine_price_chaos
        ),
        "Allocation": allocation_chart_png(report.allocation, report.cash_chaos, report.divine_price_chaos),
    }
    track_record = read_track_record(report_store)
    path = report_store.write(league, "html", report_html(report, charts, track_record))
    report_store.write(league, "json", report_json(report, track_record))
    report_store.write(league, "csv", report_csv(report, track_record))
    seconds = time.perf_counter() - started
    allocation = report.allocation
    context.log.info(
        f"report for {league} as of {report.as_of}: {report.ranking.height} currencies, "
        f"{allocation.height} positions, {report.triggers.height} triggers → {path}"
    )
    rank = report.settings.rank_horizon  # the configured one, or the longest horizon forecast so far
    # The same "best" as the hold sentence and the allocation: the largest median gain after the round trip.
    best = report.ranking.sort("edge", descending=True, nulls_last=True).row(0, named=True)
    decision = (
        report.hold_reason
        or f"buy {allocation.height} for {price_text(report.budget_chaos - report.cash_chaos)} chaos, keep "
        f"{price_text(report.cash_chaos)} chaos"
    )
    return report.ranking, {
        "decision": decision,
        "league": league,
        "as_of": report.as_of,
        "currencies": report.ranking.height,
        "divine_price_chaos": number(report.divine_price_chaos),
        "budget": f"{config.budget:g} {config.budget_unit}",
        "costs": report.cost_source,
        "positions": allocation.height,
        # the skill gate at the ranking horizon: how many items are forecast as "no change" (no proven skill)
        "no_change_forecasts": int(
            (report.ranking[f"skill_gate_{report.settings.rank_horizon}"] == "no change").sum()
        ),
        "cash_left_chaos": number(report.cash_chaos),
        "top_pick": f"{best['currency']} (median gain after the round trip {pct_text(best.get('edge'))} over "
        f"{rank}, P(gain) {prob_text(best.get(f'p_gain_{rank}'))})",
        "track_record": track_record_sentence(track_record),
        "allocation": table_value(allocation) if allocation.height else report.hold_reason,
        "top_currencies": table_value(report.ranking.select(report.summary_columns()), max_rows=15),
        "rebalancing_triggers": report.triggers.height,
        "triggers": table_value(report.triggers, max_rows=15),
        "glossary": table_value(
            pl.DataFrame({"term": list(GLOSSARY), "meaning": list(GLOSSARY.values())}), max_rows=len(GLOSSARY)
        ),
        "forecast_fan": dg.MetadataValue.md(
            png_markdown(charts["Price history and forecast fan"], "forecast fan")
        ),
        "allocation_chart": dg.MetadataValue.md(png_markdown(charts["Allocation"], "allocation")),
        "html_report": dg.MetadataValue.path(str(path)),
        "seconds": round(seconds, 2),
    }
