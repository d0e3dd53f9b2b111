"""The standalone HTML report (no external assets), written for a trader:

summary first (what to buy, how much, how sure, the track record), then the allocation (one section; an
empty one says why), one compact sortable table of the top currencies, details per currency behind a click,
the charts, the rebalancing triggers and the glossary. Numbers are rounded (``core.report.numbers``); the
page never scrolls sideways at 1,400 px (wide tables scroll inside their own box).
"""

import base64
import html

import polars as pl

from poeconomy_assets.core.report.glossary import GLOSSARY
from poeconomy_assets.core.report.numbers import pct_text, price_text, prob_text

TABLE_ROWS = 40  # the compact table and the per-currency details show the best-ranked this many
TRIGGER_ROWS = 20

STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;padding:1.5em;max-width:1300px;color:#1d2731;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.muted{color:#5c6b78}.box{background:#f4f7f9;border-left:4px solid #2a9d8f;padding:.6em 1em;margin:.8em 0}
.hold{border-left-color:#e76f51}.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.88em;margin:.4em 0}
td,th{border:1px solid #d5dde3;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#eef2f5;cursor:pointer;user-select:none}td.name,th.name{text-align:left}
tr:nth-child(even) td{background:#fafbfc}details{margin:.2em 0}summary{cursor:pointer}
img{max-width:100%;height:auto}dl{display:grid;grid-template-columns:max-content 1fr;gap:.3em 1em}
dt{font-weight:600}dd{margin:0}
"""

SORT_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function(th, column){
  th.title = 'sort'; th.addEventListener('click', function(){
    var body = th.closest('table').tBodies[0], rows = Array.from(body.rows);
    var up = th.dataset.dir !== 'up'; th.dataset.dir = up ? 'up' : 'down';
    rows.sort(function(a, b){
      var x = a.cells[column].dataset.v, y = b.cells[column].dataset.v;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
      return up ? c : -c;});
    rows.forEach(function(r){ body.appendChild(r); });});});
"""


def _e(text: object) -> str:
    return html.escape("" if text is None else str(text))


def _cell(text: str, sort_value: object = None, name: bool = False) -> str:
    value = "" if sort_value is None else sort_value
    return f'<td{" class=name" if name else ""} data-v="{_e(value)}">{_e(text)}</td>'


def _table(headers: list[str], rows: list[list[str]], sortable: bool = False, name_column: int = 0) -> str:
    head = "".join(
        f"<th{' class=name' if i == name_column else ''}>{_e(h)}</th>" for i, h in enumerate(headers)
    )
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return (
        f'<div class="scroll"><table{" class=sortable" if sortable else ""}><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _money(chaos: float | None, divine: float | None) -> str:
    if chaos is None:
        return "–"
    return f"{price_text(chaos)} c" + (f" ({price_text(chaos / divine)} div)" if divine else "")


def summary_html(report, track_record: dict | None) -> str:
    rank = report.settings.rank_horizon
    rules = report.settings.rules
    divine = report.divine_price_chaos
    allocation = report.allocation
    parts = []
    if allocation.is_empty():
        parts.append(
            f'<div class="box hold"><b>Hold {_e(report.hold_advice)}.</b> {_e(report.hold_reason)}</div>'
        )
    else:
        buys = "".join(
            f"<li><b>{_e(r['currency'])}</b>: {_money(r['allocation_chaos'], divine)}, {r['units']:,} "
            f"whole units at the ask, {price_text(r['entry_price'])} c each; median {pct_text(r[f'return_{rank}'])} "
            f"over {rank}, {pct_text(r['edge'])} after selling at the bid, P(gain) {prob_text(r[f'p_gain_{rank}'])}, 80% range {price_text(r[f'low80_chaos_{rank}'])}"
            f"–{price_text(r[f'high80_chaos_{rank}'])} c</li>"
            for r in allocation.iter_rows(named=True)
        )
        parts.append(
            f'<div class="box"><b>Buy {allocation.height} currenc{"y" if allocation.height == 1 else "ies"}'
            f"</b> for {_money(report.budget_chaos - report.cash_chaos, divine)}; keep "
            f"{_money(report.cash_chaos, divine)} in chaos.<ul>{buys}</ul></div>"
        )
    parts.append(
        f'<p class="muted">As of {_e(report.as_of)}. One Divine Orb = {price_text(divine)} chaos. '
        f"Budget {rules.budget:g} {rules.budget_unit}, at most {rules.max_position_share:.0%} per "
        f"currency, minimum edge {100 * rules.min_edge:.1f}% after costs ({_e(report.cost_source)}), "
        f"minimum liquidity {rules.min_liquidity}. Forecasts are not promises: see the ranges.</p>"
    )
    parts.append(f"<p><b>Track record.</b> {_e(track_record_sentence(track_record))}</p>")
    return "".join(parts)


def track_record_sentence(track_record: dict | None) -> str:
    """Plain sentences on how following the report did on a held-out league, against each comparison under
    the same execution; "beat" only where it did."""
    if not track_record or not track_record.get("strategy"):
        return (
            "No backtest yet: materialize backtest_scorecard (or run poeconomy backtest) to see what following "
            "this report would have made on a league the models never saw."
        )
    s = track_record["strategy"]
    trades = s["trades"] if isinstance(s["trades"], list) else []
    count = len(trades) if isinstance(s["trades"], list) else int(s["trades"])
    every = s.get("every_days", 7)
    rounds = "weekly" if every == 7 else "daily" if every == 1 else f"{every}-day"
    hit = f"{s['hit_rate']:.0%}" if s.get("hit_rate") is not None else "no trades"
    head = (
        f"Following it on {track_record.get('test_league', 'a held-out league')} ({s['periods']} {rounds} "
        f"rounds of at most {price_text(s.get('budget_chaos'))} c, {count} trades bought at the ask and sold at "
        f"the bid): {pct_text(s['return'])}; worst drawdown {pct_text(s['max_drawdown'], signed=False)} "
        f"(daily, marked at the bid), hit rate {hit}."
    )
    if count == 0:
        return (
            head + " It never traded: nothing cleared the costs, so it made what holding chaos makes (0%); "
            f"holding divines made {pct_text(s.get('hold_divine_return'))}, the equal-weight basket of the "
            f"tradable items {pct_text(s.get('basket_return'))}."
        )
    comparisons = [
        ("holding chaos", s.get("hold_chaos_return", 0.0)),
        ("holding divines", s.get("hold_divine_return")),
        ("an equal-weight basket of the tradable items", s.get("basket_return")),
    ]
    beat = [
        f"{name} ({pct_text(value)})"
        for name, value in comparisons
        if value is not None and s["return"] > value
    ]
    lost = [
        f"{name} ({pct_text(value)})"
        for name, value in comparisons
        if value is not None and s["return"] <= value
    ]
    parts = [head]
    if beat:
        parts.append(f"It beat {_join(beat)}.")
    if lost:
        parts.append(f"It did not beat {_join(lost)}.")
    if s.get("perfect_foresight_return") is not None:
        parts.append(f"Perfect foresight under the same rules: {pct_text(s['perfect_foresight_return'])}.")
    if s["return"] < 0:
        parts.append("It lost money: do not trade on this report alone.")
    return " ".join(parts)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def allocation_html(report, chart: bytes | None) -> str:
    rank = report.settings.rank_horizon
    divine = report.divine_price_chaos
    allocation = report.allocation
    if allocation.is_empty():
        return f"<p><b>Nothing allocated.</b> {_e(report.hold_reason)}</p>"
    rows = [
        [
            _cell(r["currency"], r["currency"], name=True),
            _cell(price_text(r["allocation_chaos"]), r["allocation_chaos"]),
            _cell(price_text(r["allocation_divine"]), r["allocation_divine"]),
            _cell(f"{r['weight']:.0%}", r["weight"]),
            _cell(f"{r['units']:,}", r["units"]),
            _cell(pct_text(r[f"return_{rank}"]), r[f"return_{rank}"]),
            _cell(prob_text(r[f"p_gain_{rank}"]), r[f"p_gain_{rank}"]),
            _cell(pct_text(r["cost"], signed=False), r["cost"]),
            _cell(f"{r['score']:.2f}", r["score"]),
            _cell(f"{r['diversification']:.2f}", r["diversification"]),
        ]
        for r in allocation.iter_rows(named=True)
    ]
    rows.append(
        [
            _cell("(kept in chaos)", name=True),
            _cell(price_text(report.cash_chaos)),
            _cell(price_text(report.cash_chaos / divine) if divine else "–"),
            _cell(f"{report.cash_chaos / report.budget_chaos:.0%}" if report.budget_chaos else "–"),
            *[_cell("") for _ in range(6)],
        ]
    )
    table = _table(
        [
            "Currency",
            "Chaos",
            "Divines",
            "Share",
            "Units",
            f"Median {rank}",
            f"P(gain) {rank}",
            "Cost",
            "Score",
            "Diversification",
        ],
        rows,
    )
    image = (
        f'<img alt="allocation chart" src="data:image/png;base64,{base64.b64encode(chart).decode()}">'
        if chart
        else ""
    )
    return table + image


def ranking_html(report) -> str:
    rank = report.settings.rank_horizon
    shown = report.ranking.head(TABLE_ROWS)
    rows = []
    for r in shown.iter_rows(named=True):
        rows.append(
            [
                _cell(str(r["rank"]), r["rank"]),
                _cell(r["currency"], r["currency"], name=True),
                _cell(price_text(r["price_chaos"]), r["price_chaos"]),
                _cell(price_text(r["price_divine"]), r["price_divine"]),
                _cell(pct_text(r[f"return_{rank}"]), r[f"return_{rank}"]),
                _cell(prob_text(r[f"p_gain_{rank}"]), r[f"p_gain_{rank}"]),
                _cell(price_text(r[f"low80_chaos_{rank}"]), r[f"low80_chaos_{rank}"]),
                _cell(price_text(r[f"high80_chaos_{rank}"]), r[f"high80_chaos_{rank}"]),
                _cell(pct_text(r[f"downside_{rank}"]), r[f"downside_{rank}"]),
                _cell("–" if r["score"] is None else f"{r['score']:.2f}", r["score"]),
                _cell("–" if r["liquidity"] is None else f"{r['liquidity']:.2f}", r["liquidity"]),
                _cell(r["data_quality"] or "–", r["data_quality"]),
                _cell(
                    price_text(r["allocation_chaos"]) if r["allocation_chaos"] else "–", r["allocation_chaos"]
                ),
                _cell(
                    price_text(r["allocation_divine"]) if r["allocation_chaos"] else "–",
                    r["allocation_divine"],
                ),
            ]
        )
    more = (
        f'<p class="muted">The {TABLE_ROWS} best-ranked of {report.ranking.height} currencies; the CSV/JSON '
        f"exports hold every one.</p>"
        if report.ranking.height > TABLE_ROWS
        else ""
    )
    return (
        _table(
            [
                "#",
                "Currency",
                "Price c",
                "Price div",
                f"Median {rank}",
                f"P(gain) {rank}",
                "80% low c",
                "80% high c",
                "Downside",
                "Score",
                "Liquidity",
                "Data",
                "Buy c",
                "Buy div",
            ],
            rows,
            sortable=True,
            name_column=1,
        )
        + more
    )


def details_html(report) -> str:
    """Per currency (the best-ranked TABLE_ROWS), behind a click: every horizon and the notes."""
    horizons = report._horizons
    divine = report.divine_price_chaos

    def in_divines(chaos: float | None) -> str:
        return price_text(chaos / divine) if divine and chaos is not None else "–"

    blocks = []
    for r in report.ranking.head(TABLE_ROWS).iter_rows(named=True):
        rows = [
            [
                _cell(h, h, name=True),
                _cell(price_text(r[f"forecast_chaos_{h}"])),
                _cell(in_divines(r[f"forecast_chaos_{h}"])),
                _cell(pct_text(r[f"return_{h}"])),
                _cell(prob_text(r[f"p_up_{h}"])),
                _cell(prob_text(r[f"p_gain_{h}"])),
                _cell(f"{price_text(r[f'low80_chaos_{h}'])} – {price_text(r[f'high80_chaos_{h}'])}"),
                _cell(f"{in_divines(r[f'low80_chaos_{h}'])} – {in_divines(r[f'high80_chaos_{h}'])}"),
                _cell(f"{price_text(r[f'low95_chaos_{h}'])} – {price_text(r[f'high95_chaos_{h}'])}"),
                _cell(pct_text(r[f"downside_{h}"])),
                _cell(r[f"interval_method_{h}"] or "–"),
                _cell(r[f"skill_gate_{h}"] or "–"),
            ]
            for h in horizons
        ]
        notes = [
            f"Data: {r['data_quality']} ({r['data_quality_reason']})"
            if r["data_quality"]
            else "Data: none recent",
            f"Allocation: {r['allocation_note'] or 'bought'}",
            f"Cost: {pct_text(r['cost'], signed=False)}",
            *([f"Rebalance: {r['rebalance']}"] if r["rebalance"] else []),
            *(
                [f"P(gain) unknown: {r[f'p_gain_reason_{h}']}" for h in horizons if r[f"p_gain_reason_{h}"]][
                    :1
                ]
            ),
            *[note for h in horizons[:1] if (note := heavy_tail_note(r, h))],
            *[
                f"{h} forecast: {r[f'skill_gate_{h}']} ({r[f'skill_gate_reason_{h}']})"
                for h in horizons
                if r[f"skill_gate_reason_{h}"]
            ],
        ]
        blocks.append(
            f"<details><summary>#{r['rank']} {_e(r['currency'])}: {price_text(r['price_chaos'])} c = "
            f"{in_divines(r['price_chaos'])} div</summary>"
            + _table(
                [
                    "Horizon",
                    "Median c",
                    "Median div",
                    "Median",
                    "P(up)",
                    "P(gain)",
                    "80% range c",
                    "80% range div",
                    "95% range c",
                    "Downside",
                    "Calibration",
                    "Forecast",
                ],
                rows,
            )
            + "<p class=muted>"
            + "; ".join(_e(n) for n in notes)
            + "</p></details>"
        )
    return "".join(blocks)


NORMAL_TAIL_RATIO = 1.96 / 1.2816  # a normal distribution's 95% half-width over its 80% half-width
HEAVY_TAIL_RATIO = 2.5


def tail_ratio(row: dict, horizon: str) -> float | None:
    """How much wider the 95% range is than the 80% range, in log terms (1.53 for a normal distribution)."""
    import math

    values = [row.get(f"{k}_chaos_{horizon}") for k in ("low95", "low80", "high80", "high95")]
    center = row.get(f"forecast_chaos_{horizon}")
    if center is None or any(v is None or v <= 0 for v in values) or center <= 0:
        return None
    low95, low80, high80, high95 = (math.log(v / center) for v in values)
    inner = max(high80 - low80, 1e-12)
    return (high95 - low95) / inner


def heavy_tail_note(row: dict, horizon: str) -> str | None:
    """A sentence when the 95% range is far wider than a normal distribution's would be beside this 80% range."""
    ratio = tail_ratio(row, horizon)
    if ratio is None or ratio < HEAVY_TAIL_RATIO:
        return None
    return (
        f"Heavy tails at {horizon}: the 95% range is {ratio:.1f}× as wide as the 80% range (a normal "
        f"distribution: {NORMAL_TAIL_RATIO:.2f}×). The ranges are calibrated on the model's past errors, where "
        "most days move little and a few (league starts, patches, glitches) move a lot: read the 80% range as "
        "the usual week and the 95% range as the jump risk, not as a contradiction"
    )


def triggers_html(report) -> str:
    triggers = report.triggers
    if triggers.is_empty():
        return "<p>None today.</p>"
    counts = triggers.group_by("trigger").len().sort("trigger")
    summary = ", ".join(f"{n} {t}" for t, n in counts.iter_rows())
    top = set(report.ranking.head(TABLE_ROWS)["currency"].to_list())
    shown = triggers.filter(pl.col("currency").is_in(list(top))).head(TRIGGER_ROWS)
    rows = [
        [
            _cell(t["currency"], name=True),
            _cell(t["horizon"]),
            _cell(t["trigger"]),
            _cell(t["detail"], name=True),
        ]
        for t in shown.iter_rows(named=True)
    ]
    return f"<p>{_e(summary)} (shown: the best-ranked currencies').</p>" + _table(
        ["Currency", "Horizon", "Trigger", "Detail"], rows
    )


def glossary_html() -> str:
    return "<dl>" + "".join(f"<dt>{_e(t)}</dt><dd>{_e(d)}</dd>" for t, d in GLOSSARY.items()) + "</dl>"


def report_html(report, charts: dict[str, bytes], track_record: dict | None = None) -> str:
    """The page. ``charts``: title → PNG; an "Allocation" chart goes into the allocation section."""
    other_charts = "".join(
        f'<h3>{_e(title)}</h3><img alt="{_e(title)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        for title, png in charts.items()
        if title != "Allocation"
    )
    sections = [
        ("Summary", summary_html(report, track_record)),
        ("Allocation", allocation_html(report, charts.get("Allocation"))),
        ("Currencies", ranking_html(report)),
        ("Details per currency", "<p class=muted>Click a currency.</p>" + details_html(report)),
        ("Charts", other_charts or "<p>No chart.</p>"),
        ("Rebalancing triggers", triggers_html(report)),
        ("Glossary", glossary_html()),
    ]
    body = "".join(f"<h2>{_e(title)}</h2>{content}" for title, content in sections)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width, initial-scale=1"><title>{_e(report.league)} report</title>'
        f"<style>{STYLE}</style></head><body><h1>{_e(report.league)}: investment report</h1>{body}"
        f"<script>{SORT_SCRIPT}</script></body></html>"
    )
