"""Cross-league profiles: how this currency, and the market, moved at the same league day in leagues that
ended before this one started, and where this league's price and path stand against them.

Leagues never overlap, so an earlier league is entirely in the past: a profile reads no day after t. Columns
(``k`` is ``all`` for every earlier league, ``recent`` for the last RECENT_LEAGUES where the currency was
listed that day):
- ``profile_{h}_{k}``: this currency's mean h-day log return at this league day in earlier leagues;
- ``market_profile_{h}_{k}``: the same for the mean over every currency;
- ``typical_path_{k}``: its log price relative to launch at this league day in earlier leagues;
- ``path_gap_{k}`` / ``level_gap_{k}``: this league's path / log price minus the earlier leagues';
- ``league_index``: the league's position in time (0 for the first league in the data).
"""

import numpy as np
import polars as pl

from poeconomy_assets.core.features.kernels import dense_codes, earlier_league_means
from poeconomy_assets.core.features.targets import target_column
from poeconomy_assets.core.prices import league_order
from poeconomy_assets.core.schemas import HORIZON_DAYS

RECENT_LEAGUES = 3  # "recent" cross-league profiles average the last three earlier leagues
PROFILE_SMOOTH_DAYS = 5  # one league's day-to-day noise is large: profiles average ±2 league days


def smoothed_profile_inputs() -> list[pl.Expr]:
    """Per league: each target and the path/level, averaged over ±2 league days. Computed on the padded
    frame, so the window stays in its group; the results are only ever read for *earlier* leagues."""
    columns = {
        **{target_column(h): target_column(h) for h in HORIZON_DAYS},
        "since_launch": "_since_launch",
        "log_price": "log_price",
    }  # profile input: source column
    return [
        pl.col(source).rolling_mean(PROFILE_SMOOTH_DAYS, min_samples=1, center=True).alias(f"_smooth_{name}")
        for name, source in columns.items()
    ]


def profiles(rows: pl.DataFrame) -> pl.DataFrame:
    """The profile columns for the rows of ``rows`` that hold a price, in their order.

    ``rows`` is narrow (keys, since_launch, log_price, the _smooth_ inputs), one row per dense calendar
    day (holes included: their smoothed inputs see neighbouring days). Each input is laid out as a
    (league, currency, league day) cube, so "every earlier league" is a prefix along the first axis."""
    order = pl.Series(league_order(rows)).cast(rows["league"].dtype)  # the same enum: comparable codes
    league_codes = rows["league"].to_physical().to_numpy()
    chronological = np.zeros(int(league_codes.max()) + 1, dtype=np.int64)
    chronological[order.to_physical().to_numpy()] = np.arange(order.len())
    league = chronological[league_codes]
    currency = dense_codes(rows["currency"].to_physical().to_numpy())
    day = rows["league_day"].to_numpy().astype(np.int64)
    shape = (order.len(), int(currency.max()) + 1, int(day.max()) + 1)
    cell = (league * shape[1] + currency) * shape[2] + day  # flat index of each row's cube cell
    has_price = rows["price_chaos"].is_not_null().to_numpy()
    out_cell, out_league = cell[has_price], league[has_price]
    out_market_cell = out_league * shape[2] + day[has_price]  # the same cell in a (league, 1, day) array

    def cube(column: str) -> np.ndarray:
        values = np.full(shape, np.nan)
        values.reshape(-1)[cell] = rows[column].to_numpy()
        return values

    def own_at(values: np.ndarray) -> np.ndarray:
        return values.reshape(-1).take(out_cell)

    def market_at(values: np.ndarray) -> np.ndarray:  # values: (league, 1, day)
        return values.reshape(-1).take(out_market_cell)

    def earlier(values: np.ndarray, exists: np.ndarray) -> dict[str, np.ndarray]:
        return earlier_league_means(values, exists, RECENT_LEAGUES)

    exists = np.zeros(shape, dtype=bool)  # the currency had a calendar row that league day
    exists.reshape(-1)[cell] = True
    market_exists = exists.any(axis=1, keepdims=True)
    out: dict[str, np.ndarray] = {"league_index": out_league}
    market: dict[str, np.ndarray] = {}
    for h in HORIZON_DAYS:
        own = cube(f"_smooth_{target_column(h)}")
        out |= {f"profile_{h}_{k}": own_at(v) for k, v in earlier(own, exists).items()}
        present = ~np.isnan(own)  # np.nanmean over currencies, without its copies (same sums)
        with np.errstate(invalid="ignore", divide="ignore"):  # a (league, day) no currency reached stays NaN
            market_mean = np.where(present, own, 0.0).sum(axis=1, keepdims=True) / present.sum(
                axis=1, keepdims=True
            )
        market |= {
            f"market_profile_{h}_{k}": market_at(v) for k, v in earlier(market_mean, market_exists).items()
        }
    since_launch = rows["since_launch"].to_numpy()[has_price]
    log_price = rows["log_price"].to_numpy()[has_price]
    typical = {
        column: {k: own_at(v) for k, v in earlier(cube(f"_smooth_{column}"), exists).items()}
        for column in ("since_launch", "log_price")
    }
    out |= {f"typical_path_{k}": v for k, v in typical["since_launch"].items()}
    out |= market
    out |= {f"path_gap_{k}": since_launch - v for k, v in typical["since_launch"].items()}
    out |= {f"level_gap_{k}": log_price - v for k, v in typical["log_price"].items()}
    return pl.DataFrame(
        [pl.Series(name, values, nan_to_null=values.dtype.kind == "f") for name, values in out.items()]
    )
