"""What a trader reads: the investment report of a league, the budget allocation, rebalancing triggers, data-quality
grades, charts and the small markdown tables shown in Dagster metadata."""

from poeconomy_assets.core.report.allocation import AllocationRules
from poeconomy_assets.core.report.charts import allocation_chart_png, fan_chart_png
from poeconomy_assets.core.report.check_summary import check_summary_line
from poeconomy_assets.core.report.execution import (
    ASSUMED_SPREAD,
    MAX_EXIT_DELAY_DAYS,
    MAX_POSITION_CHAOS,
    MIN_POSITION_CHAOS,
    Fill,
    Quote,
    entry_fill,
    execution_costs,
    exit_fill,
    fallback_spreads,
    is_one_sided,
    position_units,
    with_quote_columns,
)
from poeconomy_assets.core.report.export import report_csv, report_json
from poeconomy_assets.core.report.glossary import GLOSSARY
from poeconomy_assets.core.report.html import report_html, track_record_sentence
from poeconomy_assets.core.report.markdown import Markdown, frame_to_markdown
from poeconomy_assets.core.report.numbers import pct_text, price_text, prob_text
from poeconomy_assets.core.report.report import (
    ReportSettings,
    build_report,
    decide,
    latest_forecasts,
    png_markdown,
    with_costs,
)

__all__ = [
    "ASSUMED_SPREAD",
    "GLOSSARY",
    "MAX_EXIT_DELAY_DAYS",
    "MAX_POSITION_CHAOS",
    "MIN_POSITION_CHAOS",
    "AllocationRules",
    "Fill",
    "Markdown",
    "Quote",
    "ReportSettings",
    "allocation_chart_png",
    "build_report",
    "check_summary_line",
    "decide",
    "entry_fill",
    "execution_costs",
    "exit_fill",
    "fallback_spreads",
    "fan_chart_png",
    "frame_to_markdown",
    "is_one_sided",
    "latest_forecasts",
    "pct_text",
    "png_markdown",
    "position_units",
    "price_text",
    "prob_text",
    "report_csv",
    "report_html",
    "report_json",
    "track_record_sentence",
    "with_costs",
    "with_quote_columns",
]
