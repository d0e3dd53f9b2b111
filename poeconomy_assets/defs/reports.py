"""The per-league investment report shown in the UI and written as a standalone HTML page."""

import dagster as dg
import polars as pl

from poeconomy_assets.core.keys import name_from_key
from poeconomy_assets.core.report import build_report, png_markdown, report_html, returns_chart_png
from poeconomy_assets.defs.partitions import league_partitions
from poeconomy_assets.resources.report_store import ReportStore


@dg.asset(
    group_name="reports",
    partitions_def=league_partitions,
    ins={"price_forecasts": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    kinds={"html"},
)
def investment_report(
    context: dg.AssetExecutionContext,
    price_forecasts: pl.DataFrame,
    daily_prices: pl.DataFrame,
    report_store: ReportStore,
) -> dg.MaterializeResult[pl.DataFrame]:
    """Currencies of one league ranked by forecast return, with 80% ranges and P(up), in chaos and divines."""
    league = name_from_key(context.partition_key)
    report = build_report(league, price_forecasts, daily_prices)
    chart = returns_chart_png(price_forecasts, league)
    path = report_store.write(league, "html", report_html(report, chart))
    context.log.info(f"report for {league} as of {report.as_of}: {report.ranking.height} currencies → {path}")
    top = report.ranking.row(0, named=True)
    return dg.MaterializeResult(
        value=report.ranking,
        metadata={
            "league": league,
            "as_of": report.as_of,
            "currencies": report.ranking.height,
            "top_pick": f"{top['currency']} ({top.get('return_7d_pct')}% over 7d)",
            "divine_price_chaos": report.divine_price_chaos,
            "ranking": dg.MetadataValue.md(report.markdown()),
            "chart": dg.MetadataValue.md(png_markdown(chart, "expected returns")),
            "html_report": dg.MetadataValue.path(str(path)),
        },
    )
