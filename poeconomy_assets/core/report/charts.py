"""Report charts as PNG bytes (matplotlib, Agg): the forecast fan of the top currencies, the allocation."""

import numpy as np
import polars as pl

from poeconomy_assets.core.plotting import png_bytes, pyplot
from poeconomy_assets.core.report.numbers import price_text
from poeconomy_assets.core.schemas import HORIZON_DAYS


def readable_axes(ax) -> None:
    """Dates that never overlap (at most 5 concise labels) and plain prices (no 1e4 offsets)."""
    import matplotlib.dates as mdates
    import matplotlib.ticker as mticker

    locator = mdates.AutoDateLocator(minticks=3, maxticks=5)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda value, _: price_text(value)))
    ax.tick_params(labelsize=7)
    ax.set_ylabel("chaos", fontsize=8)


def forecast_history_png(forecasts: pl.DataFrame, currency: str, horizon: str, days: int = 60) -> bytes:
    """One currency × horizon: the price, and for each of the last ``days`` forecast dates the 80%/95% band
    and median it gave for its target date (as-of + horizon): how the forecasts tracked what happened."""
    plt = pyplot()
    shift = pl.duration(days=HORIZON_DAYS[horizon])
    league = forecasts.sort("as_of")["league"][-1]
    rows = (
        forecasts.filter(pl.col("league") == league)
        .sort("as_of")
        .tail(days)
        .with_columns((pl.col("as_of") + shift).alias("target"))
    )
    history = rows.select(pl.col("as_of").alias("date"), "price_chaos")  # the price on each forecast date
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    x = rows["target"].to_list()
    ax.fill_between(
        x,
        rows["lower_95"].to_numpy(),
        rows["upper_95"].to_numpy(),
        color="#e9c46a",
        alpha=0.35,
        label="95%",
        step="mid",
    )
    ax.fill_between(
        x,
        rows["lower_80"].to_numpy(),
        rows["upper_80"].to_numpy(),
        color="#f4a261",
        alpha=0.5,
        label="80%",
        step="mid",
    )
    ax.plot(x, rows["forecast_chaos"].to_numpy(), color="#e76f51", lw=1.2, ls="--", label="median forecast")
    ax.plot(
        history["date"].to_list(), history["price_chaos"].to_numpy(), color="#264653", lw=1.4, label="price"
    )
    ax.set_title(f"{currency}, {horizon} ahead: forecast band for each target date vs the price", fontsize=9)
    readable_axes(ax)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return png_bytes(fig)


def fan_path(price0: float, days: np.ndarray, bands: dict[str, np.ndarray], steps: int = 8):
    """The fan between the as-of day and each forecast horizon, hour by hour: from zero width today, each band
    grows like the square root of time up to the first horizon (as a random walk's would) and log-linearly
    between horizons, so it widens with the horizon instead of jumping to a flat box on day 1. Returns the
    hours after the as-of day and each band's values along them."""
    days = np.asarray(days, dtype=float)
    logs = {c: np.log(np.asarray(v, dtype=float) / price0) for c, v in bands.items()}
    hours, values = [0.0], {c: [price0] for c in bands}
    previous = 0.0
    for k, day in enumerate(days):
        for t in np.linspace(previous, day, steps + 1)[1:]:
            hours.append(24 * t)
            for c, v in logs.items():
                if k == 0:
                    level = v[0] * np.sqrt(t / day)
                else:
                    share = (t - days[k - 1]) / (day - days[k - 1])
                    level = v[k - 1] + share * (v[k] - v[k - 1])
                values[c].append(price0 * np.exp(level))
        previous = day
    return np.array(hours), {c: np.array(v) for c, v in values.items()}


def fan_chart_png(
    prices: pl.DataFrame,
    latest: pl.DataFrame,
    currencies: list[str],
    divine_chaos: float | None,
    history_days: int = 30,
) -> bytes:
    """Per currency: the last ``history_days`` of price and the forecast fan (80% and 95% intervals at
    each horizon from the latest as-of date), in chaos, with the divine equivalent in the title."""
    plt = pyplot()
    n = max(1, len(currencies))
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.1 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    last_date = prices["date"].max()
    for ax, currency in zip(axes.ravel(), currencies):
        history = prices.filter(
            (pl.col("currency") == currency)
            & (pl.col("date") > pl.lit(last_date) - pl.duration(days=history_days))
        ).sort("date")
        fan = (
            latest.filter(pl.col("currency") == currency)
            .with_columns(pl.col("horizon").replace_strict(HORIZON_DAYS, return_dtype=pl.Int64).alias("days"))
            .sort("days")
        )
        ax.plot(
            history["date"].to_list(),
            history["price_chaos"].to_numpy(),
            color="#264653",
            lw=1.4,
            label="price",
        )
        if not fan.is_empty():
            start = fan["as_of"][0]
            price0 = float(fan["price_chaos"][0])
            hours, line = fan_path(
                price0,
                fan["days"].to_numpy(),
                {
                    c: fan[c].to_numpy()
                    for c in ("lower_95", "upper_95", "lower_80", "upper_80", "forecast_chaos")
                },
            )
            x = [start + np.timedelta64(int(h), "h") for h in hours]
            ax.fill_between(x, line["lower_95"], line["upper_95"], color="#e9c46a", alpha=0.35, label="95%")
            ax.fill_between(x, line["lower_80"], line["upper_80"], color="#f4a261", alpha=0.5, label="80%")
            ax.plot(x, line["forecast_chaos"], color="#e76f51", lw=1.4, ls="--", label="forecast")
        price = float(history["price_chaos"][-1]) if history.height else float("nan")
        divine = f" = {price_text(price / divine_chaos)} div" if divine_chaos else ""
        ax.set_title(f"{currency}: {price_text(price)} c{divine}", fontsize=9)
        readable_axes(ax)
    axes.ravel()[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Price history and forecast fan (80% / 95%)", fontsize=11)
    fig.tight_layout()
    return png_bytes(fig)


def allocation_chart_png(allocation: pl.DataFrame, cash_chaos: float, divine_chaos: float | None) -> bytes:
    """Horizontal bars: chaos put into each currency (divines in the label), plus cash left."""
    plt = pyplot()
    names = allocation["currency"].to_list() + ["(cash)"]
    chaos = np.concatenate([allocation["allocation_chaos"].to_numpy(), [max(cash_chaos, 0.0)]])
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(names) + 1.4))
    colors = ["#2a9d8f"] * (len(names) - 1) + ["#adb5bd"]
    ax.barh(range(len(names)), chaos, color=colors)
    for i, value in enumerate(chaos):
        label = f"{price_text(value)} c" + (
            f" / {price_text(value / divine_chaos)} div" if divine_chaos else ""
        )
        ax.text(value, i, " " + label, va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(chaos.max(), 1e-9) * 1.45)
    ax.set_xlabel("chaos")
    ax.set_title("Allocation of the budget")
    fig.tight_layout()
    return png_bytes(fig)
