"""The investment report: currencies ranked by forecast return, in chaos and in divines."""

import base64
import html
import io
from dataclasses import dataclass

import polars as pl

from poeconomy_assets.core.markdown import frame_to_markdown
from poeconomy_assets.core.schemas import HORIZONS

DIVINE = "Divine Orb"


@dataclass(frozen=True)
class Report:
    league: str
    as_of: str
    ranking: pl.DataFrame  # one row per currency: price, then per horizon: return, interval, P(up)
    divine_price_chaos: float | None

    def markdown(self, max_rows: int = 30) -> str:
        return frame_to_markdown(self.ranking, max_rows=max_rows)


def latest_divine_price(prices: pl.DataFrame) -> float | None:
    divine = prices.filter(pl.col("currency") == DIVINE).sort("date")
    return None if divine.is_empty() else float(divine["price_chaos"][-1])


def build_report(league: str, forecasts: pl.DataFrame, prices: pl.DataFrame, rank_by: str = "7d") -> Report:
    """Rank this league's currencies by expected return at ``rank_by`` (then the other horizons)."""
    league_forecasts = forecasts.filter(pl.col("league") == league)
    if league_forecasts.is_empty():
        raise ValueError(f"no forecasts for league {league!r}")
    divine = latest_divine_price(prices)
    wide = league_forecasts.pivot(
        on="horizon",
        index=["currency", "price_chaos"],
        values=["expected_return", "lower_80", "upper_80", "prob_up"],
        aggregate_function="first",
    )
    ordered = [h for h in HORIZONS if f"expected_return_{h}" in wide.columns]
    rank_col = f"expected_return_{rank_by if rank_by in ordered else ordered[-1]}"
    columns: list[pl.Expr] = [
        pl.col("currency"),
        pl.col("price_chaos").round(4),
        (pl.col("price_chaos") / divine).round(5).alias("price_divine") if divine else pl.lit(None).alias("price_divine"),
    ]
    for h in ordered:
        columns += [
            (100 * pl.col(f"expected_return_{h}")).round(2).alias(f"return_{h}_pct"),
            pl.format(
                "{}–{}", pl.col(f"lower_80_{h}").round_sig_figs(4), pl.col(f"upper_80_{h}").round_sig_figs(4)
            ).alias(f"range80_{h}_chaos"),
            pl.col(f"prob_up_{h}").round(2).alias(f"p_up_{h}"),
        ]
    ranking = wide.sort(rank_col, descending=True, nulls_last=True).select(columns)
    ranking = ranking.with_row_index("rank", offset=1)
    as_of = str(league_forecasts["as_of"].max())
    return Report(league=league, as_of=as_of, ranking=ranking, divine_price_chaos=divine)


def returns_chart_png(forecasts: pl.DataFrame, league: str, top: int = 15) -> bytes:
    """Bar chart of expected returns with 80% intervals, one panel per horizon."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = forecasts.filter(pl.col("league") == league)
    horizons = [h for h in HORIZONS if h in set(data["horizon"].to_list())]
    fig, axes = plt.subplots(1, len(horizons), figsize=(4.2 * len(horizons), 0.35 * top + 1.6), sharey=True)
    axes = axes if len(horizons) > 1 else [axes]
    order = (
        data.filter(pl.col("horizon") == horizons[-1]).sort("expected_return", descending=True)["currency"].head(top)
    )
    for ax, h in zip(axes, horizons):
        d = data.filter(pl.col("horizon") == h).join(pl.DataFrame({"currency": order}).with_row_index("pos"), on="currency")
        d = d.sort("pos")
        ret = 100 * d["expected_return"].to_numpy()
        lo = 100 * (d["lower_80"] / d["price_chaos"] - 1).to_numpy()
        hi = 100 * (d["upper_80"] / d["price_chaos"] - 1).to_numpy()
        y = d["pos"].to_numpy()
        ax.barh(y, ret, color=["#2a9d8f" if r >= 0 else "#e76f51" for r in ret])
        ax.errorbar(ret, y, xerr=[ret - lo, hi - ret], fmt="none", ecolor="#444", capsize=2, lw=0.8)
        ax.axvline(0, color="black", lw=0.6)
        ax.set_title(f"{h}: expected return % (80% range)")
    axes[0].set_yticks(range(len(order)), order.to_list())
    axes[0].invert_yaxis()
    fig.suptitle(f"{league}: where prices are going")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def report_html(report: Report, chart_png: bytes) -> str:
    """A standalone HTML page (no external assets) with the chart and the ranking table."""
    header = "".join(f"<th>{html.escape(c)}</th>" for c in report.ranking.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in report.ranking.iter_rows()
    )
    divine = f"{report.divine_price_chaos:.4g} chaos" if report.divine_price_chaos else "unknown"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(report.league)} report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:nth-child(2){{text-align:left}}</style>
</head><body><h1>{html.escape(report.league)}: investment report</h1>
<p>As of {html.escape(report.as_of)}. One Divine Orb = {divine}. Returns are forecasts, not promises: the 80% range is where the price should land four times out of five.</p>
<img alt="expected returns" src="data:image/png;base64,{base64.b64encode(chart_png).decode()}">
<table><tr>{header}</tr>{body}</table></body></html>"""
