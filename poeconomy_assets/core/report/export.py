"""The report as data: JSON with an envelope, CSV with the envelope and glossary as ``#`` comment lines.

Numbers stay numbers (rounded to six significant digits, never ``0.19999999999999996``), ranges are two
columns (``low80_chaos_7d``, ``high80_chaos_7d``), and each file says its league, as-of date and the
Divine Orb's price in chaos. Read the CSV with ``comment_prefix="#"`` (polars) or ``comment="#"`` (pandas).
"""

import json

import polars as pl

from poeconomy_assets.core.report.glossary import GLOSSARY, glossary_comment_lines
from poeconomy_assets.core.report.numbers import round_sig
from poeconomy_assets.core.report.safe_text import csv_comment_lines, csv_safe_frame


def rounded(frame: pl.DataFrame, digits: int = 6) -> pl.DataFrame:
    """Every float column rounded to ``digits`` significant digits (NaN becomes null)."""
    floats = [c for c, t in frame.schema.items() if t in (pl.Float32, pl.Float64)]
    return frame.with_columns(pl.col(floats).fill_nan(None).round_sig_figs(digits)) if floats else frame


def envelope(report, track_record: dict | None = None) -> dict:
    rules = report.settings.rules
    strategy = (track_record or {}).get("strategy")
    return {
        "league": report.league,
        "as_of": report.as_of,
        "divine_chaos": round_sig(report.divine_price_chaos),
        "budget": {
            "amount": rules.budget,
            "unit": rules.budget_unit,
            "chaos": round_sig(float(report.budget_chaos)),
            "max_position_share": rules.max_position_share,
            "min_edge": rules.min_edge,
            "min_prob_gain": rules.min_prob_gain,
            "min_liquidity": rules.min_liquidity,
        },
        "rank_horizon": report.settings.rank_horizon,
        "costs": report.cost_source,
        "cash_chaos": round_sig(report.cash_chaos),
        "hold_reason": report.hold_reason,
        "track_record": None
        if not strategy
        else {
            "test_league": track_record.get("test_league"),
            **{k: round_sig(v) if isinstance(v, float) else v for k, v in strategy.items() if k != "curve"},
        },
    }


def report_json(report, track_record: dict | None = None) -> str:
    document = {
        **envelope(report, track_record),
        "glossary": GLOSSARY,
        "allocation": rounded(report.allocation).to_dicts(),
        "currencies": rounded(report.ranking).to_dicts(),
    }
    return json.dumps(document, indent=1, default=str, allow_nan=False)


def report_csv(report, track_record: dict | None = None) -> str:
    head = csv_comment_lines(
        envelope(report, track_record)
    )  # one text cell per line, whatever the names hold
    return (
        "\n".join([*head, *glossary_comment_lines()])
        + "\n"
        + csv_safe_frame(rounded(report.ranking)).write_csv()
    )
