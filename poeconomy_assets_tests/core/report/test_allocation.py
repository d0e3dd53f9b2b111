import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.report.allocation import AllocationRules, allocate, capped_weights, hold_reason


@pytest.mark.parametrize(
    "raw, cap",
    [
        ([1.0, 1.0, 1.0, 1.0], 0.25),
        ([10.0, 1.0, 1.0, 1.0, 1.0, 1.0], 0.3),
        ([5.0, 4.0, 0.1], 0.4),  # cannot place everything: the rest stays in cash
        ([3.0, 0.0, 2.0, 1.0], 1.0),
        ([0.0, 0.0], 0.5),
    ],
)
def test_capped_weights_respect_cap_and_budget(raw: list[float], cap: float) -> None:
    weights = capped_weights(np.array(raw), cap)
    assert (weights <= cap + 1e-12).all() and (weights >= 0).all()
    assert weights.sum() <= 1 + 1e-12
    assert (weights[np.array(raw) == 0] == 0).all()
    uncapped = (weights < cap - 1e-9) & (np.array(raw) > 0)
    if uncapped.sum() >= 2:  # positions below the cap keep the proportions of their scores
        ratio = weights[uncapped] / np.array(raw)[uncapped]
        assert np.allclose(ratio, ratio[0])
    if sum(r > 0 for r in raw) * cap >= 1:
        assert weights.sum() == pytest.approx(1.0)


def _candidates() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "currency": ["A", "B", "C", "D", "E"],
            "price_chaos": [10.0, 2.0, 50.0, 1.0, 5.0],
            "score": [2.0, 1.0, 0.5, 3.0, 1.0],
            "diversification": [1.0, 0.8, 0.9, 1.0, 1.0],
            "liquidity": [0.9, 0.9, 0.9, 0.1, 0.9],  # D is illiquid
            "edge": [0.05, 0.02, 0.015, 0.2, -0.01],  # median return after costs: E is expected to lose
            "prob_gain": [0.7, 0.6, 0.55, 0.9, 0.4],
            "sigma": [0.1, 0.05, 0.2, 0.1, 0.1],
            "depth": [1.0] * 5,
        }
    )


UNCAPPED = {"max_position_chaos": 1e12, "min_position_chaos": 0.0}  # whole units only, no depth cap


@pytest.mark.parametrize("unit, divine", [("chaos", 200.0), ("divine", 200.0)])
def test_allocation_sums_to_budget_with_caps_and_liquidity(unit: str, divine: float) -> None:
    rules = AllocationRules(
        budget=5.0 if unit == "divine" else 1000.0,
        budget_unit=unit,
        max_position_share=0.5,
        min_liquidity=0.5,
        **UNCAPPED,
    )
    budget_chaos = rules.budget * (divine if unit == "divine" else 1.0)
    out = allocate(_candidates(), rules, divine)
    by = {r["currency"]: r for r in out.iter_rows(named=True)}
    assert by["D"]["allocation_chaos"] == 0 and "liquidity" in by["D"]["reason"]
    assert by["E"]["allocation_chaos"] == 0 and "median gain after costs" in by["E"]["reason"]
    held = out.filter(pl.col("units") > 0)
    # whole units: what rounding down leaves is less than one unit of each position
    assert budget_chaos - held["price_chaos"].sum() < out["allocation_chaos"].sum() <= budget_chaos
    assert (out["allocation_chaos"] <= rules.max_position_share * budget_chaos + 1e-9).all()
    assert out["allocation_divine"].to_numpy() == pytest.approx(out["allocation_chaos"].to_numpy() / divine)
    assert by["A"]["units"] == by["A"]["allocation_chaos"] / 10.0 and isinstance(by["A"]["units"], int)


def test_divine_budget_needs_a_divine_price() -> None:
    with pytest.raises(ValueError, match="Divine"):
        allocate(_candidates(), AllocationRules(budget=1, budget_unit="divine"), None)


def test_at_most_max_positions_best_weighted_first() -> None:
    rules = AllocationRules(
        budget=100.0, max_position_share=1.0, min_liquidity=0.0, max_positions=2, **UNCAPPED
    )
    out = allocate(_candidates(), rules, 200.0)
    held = out.filter(pl.col("allocation_chaos") > 0)["currency"].to_list()
    assert sorted(held) == ["A", "D"], "the two best score × diversification among eligible"
    assert out.filter(pl.col("currency") == "B")["reason"][0] == "beyond the top 2 scores"
    assert 100.0 - 10.0 - 1.0 < out["allocation_chaos"].sum() <= 100.0


def test_weights_follow_inverse_volatility_times_diversification() -> None:
    """Uncapped, the weights are proportional to diversification / sigma, not to the edge."""
    out = allocate(_candidates(), AllocationRules(budget=1e6, max_position_share=1.0, **UNCAPPED), 200.0)
    by = {r["currency"]: r["weight"] for r in out.iter_rows(named=True)}
    raw = {"A": 1.0 / 0.1, "B": 0.8 / 0.05, "C": 0.9 / 0.2}
    for currency, value in raw.items():  # up to a unit's rounding
        assert by[currency] == pytest.approx(value / sum(raw.values()), abs=1e-4)
    assert by["B"] > by["A"], "the calmer currency gets more although its edge is smaller"


def test_below_the_minimum_edge_the_report_holds_chaos_and_says_why() -> None:
    rules = AllocationRules(budget=1000.0, min_edge=0.5, min_liquidity=0.0)
    out = allocate(_candidates(), rules, 200.0)
    assert out["allocation_chaos"].sum() == 0
    table = _as_report_table(out)
    reason = hold_reason(table, rules, "7d")
    assert reason.startswith("hold chaos") and "50.0%" in reason and "D" in reason, reason
    assert "P(gain) 90%" in reason, "the P(gain) of the table's row, not 'unknown'"
    assert "median gain after costs 20.0% < 50.0%" in reason, "the table's allocation note, not 'eligible'"
    assert (
        hold_reason(
            _as_report_table(allocate(_candidates(), AllocationRules(min_liquidity=0.0), 200.0)), rules, "7d"
        )
        is None
    )


def _as_report_table(allocated: pl.DataFrame, divine_return: float | None = None) -> pl.DataFrame:
    """``allocate``'s output under the report table's column names (as ``build_report`` renames them)."""
    table = allocated.rename({"reason": "allocation_note", "prob_gain": "p_gain_7d"}).with_columns(
        pl.lit(0.0).alias("return_7d"), pl.lit(0.1).alias("cost")
    )
    if divine_return is not None:
        row = table.head(1).with_columns(
            currency=pl.lit("Divine Orb"),
            return_7d=pl.lit(divine_return),
            edge=pl.lit(-0.09),
            allocation_chaos=pl.lit(0.0),
        )
        table = pl.concat([table, row])
    return table


@pytest.mark.parametrize("divine_return, advice", [(0.02, "divines"), (-0.02, "chaos"), (None, "chaos")])
def test_when_nothing_clears_the_costs_the_report_says_what_to_hold(divine_return, advice) -> None:
    rules = AllocationRules(budget=1000.0, min_edge=0.5, min_liquidity=0.0)
    table = _as_report_table(allocate(_candidates(), rules, 200.0), divine_return)
    reason = hold_reason(table, rules, "7d")
    assert reason.startswith(f"hold {advice}:"), reason
    if divine_return is not None:
        assert f"{100 * divine_return:+.2f}%" in reason, "the Divine Orb's forecast is the reason"


def test_a_positive_score_never_comes_with_p_gain_below_half() -> None:
    """Ranking and P(gain) come from the same distribution: edge > 0 exactly when P(gain) > 50%."""
    from datetime import date

    from poeconomy_assets.core.report.execution import execution_costs
    from poeconomy_assets.core.report.report import with_costs
    from poeconomy_assets.core.uncertainty.distribution import KNOTS, knots_from_halfwidths

    rng = np.random.default_rng(0)
    n = 500
    knots = knots_from_halfwidths(
        rng.normal(0, 0.05, n), rng.uniform(0, 0.05, n), rng.uniform(0, 0.1, n), rng.uniform(0, 0.3, n)
    )
    price = np.exp(rng.uniform(-5, 9, n))
    frame = pl.DataFrame(
        {
            "currency": [f"C{i}" for i in range(n)],
            "as_of": [date(2024, 1, 1)] * n,
            "price_chaos": price,
            **{c: price * np.exp(knots[:, i]) for i, c in enumerate(KNOTS)},
            "prob_up": 0.5,
        }
    ).with_columns((pl.col("forecast_chaos") / pl.col("price_chaos") - 1).alias("expected_return"))
    prices = pl.DataFrame(
        {
            "currency": frame["currency"],
            "date": frame["as_of"],
            "price_chaos": price,
            "buy_price_chaos": price * rng.uniform(0.9, 1.0, n),
            "confidence": "High",
            "buy_confidence": "High",
        }
    )
    rows = with_costs(frame, execution_costs(prices))
    assert rows["cost"].min() > 0, "a round trip is never free"
    scored = rows.filter(pl.col("score").abs() > 1e-6)
    # the median's net return and P(gain) read the same break-even (ticks included): they never disagree
    assert ((scored["score"] > 0) == (scored["p_gain"] >= 0.5)).all()


def test_a_one_day_glitch_is_not_a_bargain() -> None:
    """Real dumps hold one-day bad quotes (an item at ~20 c quoted 0.85 c): flagged, never bought."""
    from datetime import date, timedelta

    from poeconomy_assets.core.report.data_quality import data_quality

    days = [date(2023, 10, 14) + timedelta(days=i) for i in range(14)]
    prices = pl.DataFrame(
        {
            "currency": ["Report"] * 14 + ["Steady"] * 14,
            "date": days * 2,
            "price_chaos": [20.0] * 13 + [0.845] + [5.0] * 14,
            "confidence": ["High"] * 28,
        }
    )
    quality = {r["currency"]: r for r in data_quality(prices).iter_rows(named=True)}
    assert quality["Report"]["data_quality"] == "suspect quote" and quality["Steady"]["data_quality"] == "ok"
    candidates = (
        _candidates()
        .head(2)
        .with_columns(
            currency=pl.Series(["Report", "Steady"]), data_quality=pl.Series(["suspect quote", "ok"])
        )
    )
    out = allocate(candidates, AllocationRules(min_liquidity=0.0), 200.0)
    by = {r["currency"]: r for r in out.iter_rows(named=True)}
    assert (
        by["Report"]["weight"] == 0
        and "suspect quote" in by["Report"]["reason"]
        and by["Steady"]["weight"] > 0
    )
