"""The investment report: divine conversion, allocation constraints, triggers, on a synthetic league."""

import re
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.report.allocation import AllocationRules
from poeconomy_assets.core.report.html import report_html
from poeconomy_assets.core.report.report import ReportSettings, build_report
from poeconomy_assets.core.report.triggers import rebalancing_triggers
from poeconomy_assets.core.uncertainty.forecast_table import add_divine_columns

START = date(2024, 1, 1)
DAYS = 30


def _prices(n: int = 8, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        name = "Divine Orb" if i == 0 else f"C{i}"
        base = 200.0 if i == 0 else 100.0 + 10 * i  # whole-chaos ticks cost little at these prices
        walk = np.exp(np.cumsum(rng.normal(0, 0.03, DAYS)))
        for d in range(DAYS):
            confidence = "Low" if (i == 7 and d % 2) else "High"
            rows.append(
                {
                    "league": "L",
                    "currency": name,
                    "date": START + timedelta(days=d),
                    "league_day": d,
                    "price_chaos": base * walk[d],
                    "confidence": confidence,
                    "buy_price_chaos": base * walk[d] * 0.99,
                    "buy_confidence": confidence,
                }
            )  # a 1% spread
    return pl.DataFrame(rows)


def _forecasts(prices: pl.DataFrame, returns: dict[str, float]) -> pl.DataFrame:
    """Forecasts from the last two days at every horizon: expected return given per currency (yesterday's
    had the opposite sign for C1), an 80% band of ±10% and P(up) 0.5 + return."""
    rows = []
    for (currency,), group in prices.group_by("currency"):
        for horizon in ("1d", "3d", "7d"):
            for back in (1, 0):
                row = group.sort("date")[-1 - back]
                er = returns.get(currency, 0.0) * (-1 if (back and currency == "C1") else 1)
                price = row["price_chaos"][0]
                rows.append(
                    {
                        "league": "L",
                        "currency": currency,
                        "horizon": horizon,
                        "as_of": row["date"][0],
                        "price_chaos": price,
                        "forecast_chaos": price * (1 + er),
                        "expected_return": er,
                        "lower_80": price * (1 + er) * 0.9,
                        "upper_80": price * (1 + er) * 1.1,
                        "lower_95": price * (1 + er) * 0.8,
                        "upper_95": price * (1 + er) * 1.2,
                        "lower_50": price * (1 + er) * 0.95,
                        "upper_50": price * (1 + er) * 1.05,
                        "prob_up": min(0.99, 0.5 + er),
                        "prob_up_reason": None,
                        "interval_method": "conformal-own",
                        "forecast_source": "model",
                    }
                )
    return pl.DataFrame(rows)


def test_prices_convert_to_divines_at_the_same_date() -> None:
    features = pl.DataFrame(
        {
            "league": ["L"] * 4,
            "currency": ["Divine Orb", "Divine Orb", "X", "X"],
            "date": [START, START + timedelta(days=1)] * 2,
            "price_chaos": [100.0, 200.0, 10.0, 10.0],
        }
    )
    frame = pl.DataFrame(
        {
            "league": ["L", "L", "L"],
            "as_of": [START, START + timedelta(days=1), START + timedelta(days=5)],
            "price_chaos": [10.0, 10.0, 10.0],
            "forecast_chaos": [12.0, 12.0, 12.0],
            **{c: [9.0, 9.0, 9.0] for c in ("lower_80", "upper_80", "lower_95", "upper_95")},
        }
    )
    out = add_divine_columns(frame, features)
    assert out["price_divine"].to_list() == [pytest.approx(0.1), pytest.approx(0.05), None]
    assert out["forecast_divine"][0] == pytest.approx(0.12)
    assert out["lower_80_divine"][1] == pytest.approx(9.0 / 200.0)


@pytest.mark.parametrize("unit, budget", [("chaos", 1000.0), ("divine", 6.0)])
def test_report_allocates_within_budget_and_caps(unit: str, budget: float) -> None:
    prices = _prices()
    returns = {"C1": 0.08, "C2": 0.06, "C3": 0.05, "C4": 0.04, "C5": -0.05, "C6": 0.0, "C7": 0.09}
    rules = AllocationRules(budget=budget, budget_unit=unit, max_position_share=0.3, min_liquidity=0.6)
    report = build_report("L", _forecasts(prices, returns), prices, ReportSettings(rules=rules))
    ranking = {r["currency"]: r for r in report.ranking.iter_rows(named=True)}
    divine = report.divine_price_chaos
    assert divine == pytest.approx(prices.filter(pl.col("currency") == "Divine Orb")["price_chaos"][-1])
    budget_chaos = budget * (divine if unit == "divine" else 1.0)
    assert report.ranking["allocation_chaos"].sum() + report.cash_chaos == pytest.approx(budget_chaos)
    assert report.ranking["allocation_chaos"].max() <= 0.3 * budget_chaos + 1e-9
    assert ranking["C7"]["allocation_chaos"] == 0, "half its prices are low-confidence: illiquid"
    assert ranking["C5"]["allocation_chaos"] == 0 and ranking["C6"]["allocation_chaos"] == 0
    assert set(report.allocation["currency"]) == {"C1", "C2", "C3", "C4"}
    for r in ranking.values():
        assert r["price_divine"] == pytest.approx(r["price_chaos"] / divine)
        assert r["forecast_divine_7d"] == pytest.approx(r["forecast_chaos_7d"] / divine)
    assert ranking["C1"]["downside_7d"] == pytest.approx(
        1.08 * 0.9 - 1, abs=1e-5
    )  # fractions, like p_gain_7d
    held = report.allocation
    assert (held["units"] >= 1).all() and (
        held["allocation_chaos"] == held["units"] * held["entry_price"]
    ).all()
    assert (held["entry_price"] >= held["price_chaos"]).all(), "bought at the ask (ticked up), never below"
    assert "sign flip" in (ranking["C1"]["rebalance"] or "")
    assert ranking["C7"]["data_quality"] == "low confidence"
    page = report_html(report, {"chart": b"png"})
    assert "<table>" in page and "data:image/png;base64," in page


def test_price_leaving_its_interval_triggers() -> None:
    day = START
    forecasts = pl.DataFrame(
        {
            "currency": ["A", "A", "B", "B"],
            "horizon": ["1d"] * 4,
            "as_of": [day, day + timedelta(days=1)] * 2,
            "price_chaos": [10.0, 13.0, 10.0, 10.5],
            "expected_return": [0.01] * 4,
            "lower_80": [9.0, 12.0, 9.0, 9.5],
            "upper_80": [11.0, 14.0, 11.0, 11.5],
        }
    )
    triggers = rebalancing_triggers(forecasts)
    assert triggers.select("currency", "trigger").rows() == [("A", "left interval")]
    assert "13" in triggers["detail"][0]


def _mirror_report(returns: dict[str, float]):
    prices = _prices().with_columns(  # C2 priced like a Mirror of Kalandra
        pl.when(pl.col("currency") == "C2")
        .then(pl.col("price_chaos") * 4447)
        .otherwise(pl.col("price_chaos"))
        .alias("price_chaos")
    )
    rules = AllocationRules(budget=1000.0, max_position_share=0.3, min_liquidity=0.6)
    return build_report("L", _forecasts(prices, returns), prices, ReportSettings(rules=rules))


def test_html_reads_like_a_report() -> None:
    import re

    from poeconomy_assets.core.report.glossary import GLOSSARY

    report = _mirror_report({"C1": 0.08, "C2": 0.06, "C3": 0.05, "C4": 0.04})
    page = report_html(report, {"Allocation": b"png", "Price history and forecast fan": b"png"})
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert (
        headings[0] == "Summary" and len(headings) == len(set(headings)) and headings.count("Allocation") == 1
    )
    assert page.index("Summary") < page.index("<table")
    visible = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)>.*?</\1>", "", page, flags=re.DOTALL))
    assert not re.search(r"\de[+-]?\d", visible), "no scientific notation in what a reader sees"
    mirror = report.ranking.filter(pl.col("currency") == "C2")["price_chaos"][0]
    assert mirror > 1e4 and f"{mirror:,.0f} c" in visible
    for term in GLOSSARY:
        assert term in page
    assert page.count("<details>") == report.ranking.height and "class=sortable" in page


def test_empty_allocation_says_why_everywhere() -> None:
    import json

    from poeconomy_assets.core.report.export import report_csv, report_json

    report = _mirror_report({"C1": 0.001, "C2": -0.02})  # nothing clears the 1% minimum edge
    assert report.allocation.is_empty() and report.cash_chaos == pytest.approx(1000.0)
    assert (
        report.hold_reason.startswith(f"hold {report.hold_advice}")
        and "clears the costs" in report.hold_reason
    )
    page = report_html(report, {})
    assert f"Hold {report.hold_advice}." in page and "Nothing allocated." in page
    document = json.loads(report_json(report))
    assert document["league"] == "L" and document["as_of"] == report.as_of and document["divine_chaos"] > 0
    assert document["hold_reason"] == report.hold_reason and "P(gain)" in document["glossary"]
    row = document["currencies"][0]
    assert isinstance(row["price_chaos"], float) and isinstance(row["low80_chaos_7d"], float)
    assert isinstance(row["high80_chaos_7d"], float) and len(repr(row["price_chaos"])) <= 20
    csv = report_csv(report)
    assert csv.startswith('# league: "L"') and "# P(gain): " in csv
    table = pl.read_csv(csv.encode(), comment_prefix="#")
    assert table["price_chaos"].dtype == pl.Float64 and "low80_chaos_7d" in table.columns
    assert table.height == report.ranking.height


@pytest.mark.parametrize(
    "broken, problem",
    [
        ({"lower_80": 0.1}, "80% band wider than the 95% band"),
        ({"prob_up": 0.1}, "median above the price but P(up) < 50%"),
    ],
)
def test_no_report_on_forecasts_that_contradict_themselves(broken: dict, problem: str) -> None:
    """Harmonizing the horizons would hide a stored contradiction (it re-reads P(up), re-orders quantiles):
    the report refuses it instead, naming it."""
    prices = _prices()
    forecasts = _forecasts(prices, {"C1": 0.08, "C2": 0.06})
    last = (
        (pl.col("currency") == "C2")
        & (pl.col("horizon") == "3d")
        & (pl.col("as_of") == pl.col("as_of").max())
    )
    forecasts = forecasts.with_columns(
        pl.when(last).then(pl.lit(v)).otherwise(pl.col(c)).alias(c) for c, v in broken.items()
    )
    with pytest.raises(ValueError, match=re.escape(problem)) as raised:
        build_report("L", forecasts, prices)
    assert "'C2'" in str(raised.value) and "no report is built" in str(raised.value)


@pytest.mark.parametrize("returns", [{"C1": 0.001, "C2": -0.02}, {"C1": 0.08, "C3": 0.06}])
def test_the_summary_and_the_table_agree_in_every_format(returns: dict[str, float]) -> None:
    """Issue 20: the hold sentence quotes the best row's P(gain) and allocation note as the table shows them,
    and the bought units and chaos are the table's, in HTML, JSON and CSV alike."""
    import html
    import io
    import json

    from poeconomy_assets.core.report.export import report_csv, report_json
    from poeconomy_assets.core.report.numbers import prob_text

    report = _mirror_report(returns)
    document = json.loads(report_json(report))
    table = pl.DataFrame(document["currencies"])
    csv_text = report_csv(report)
    csv_table = pl.read_csv(io.StringIO(csv_text), comment_prefix="#")
    page = html.unescape(report_html(report, {}))
    assert (report.hold_reason is None) == ("C3" in returns), "one case buys, the other holds"
    assert csv_table["p_gain_7d"].to_list() == pytest.approx(table["p_gain_7d"].to_list())
    hold_line = next(line for line in csv_text.splitlines() if line.startswith("# hold_reason: "))
    assert (
        document["hold_reason"] == report.hold_reason == json.loads(hold_line.removeprefix("# hold_reason: "))
    )
    if report.hold_reason is None:
        for row in document["allocation"]:
            assert row["allocation_chaos"] == pytest.approx(row["units"] * row["entry_price"])
            assert f"{row['units']:,} whole units at the ask" in page
        return
    best = table.sort("edge", descending=True, nulls_last=True).row(0, named=True)
    assert f"P(gain) {prob_text(best['p_gain_7d'])}" in report.hold_reason
    assert f"({best['allocation_note']})" in report.hold_reason
    assert "unknown" not in report.hold_reason and "(eligible)" not in report.hold_reason
    assert report.hold_reason in page
    assert all(abs(v) < 1 for v in table["return_7d"].to_list()), "fractions, like p_gain_7d"
