"""What the models learn to predict, per horizon h (1d, 3d, 7d), at (league, currency, date t):

- ``target_logret_{h}``: log(price(t+h) / price(t)), the regression target;
- ``target_price_{h}``: price(t+h) in chaos;
- ``target_change_{h}``: price(t+h) / price(t) - 1;
- ``target_up_{h}``: 1 when the price rose, else 0.

Null where t+h has no price in the same league: a target never crosses a league's end.
"""

import polars as pl

from poeconomy_assets.core.schemas import HORIZON_DAYS


def target_column(horizon: str) -> str:
    """The regression target of ``horizon``: its log return."""
    return f"target_logret_{horizon}"


def target_names(horizon: str) -> list[str]:
    return [
        target_column(horizon),
        f"target_price_{horizon}",
        f"target_change_{horizon}",
        f"target_up_{horizon}",
    ]


def target_log_returns() -> list[pl.Expr]:
    """log(price(t+h) / price(t)) per horizon, on the dense calendar: past a group's end lie padding rows
    (null), never the next group."""
    logp = pl.col("log_price")
    return [(logp.shift(-d) - logp).alias(target_column(h)) for h, d in HORIZON_DAYS.items()]


def other_targets() -> list[pl.Expr]:
    """The other targets, from the log returns (a separate step: eager polars would recompute them)."""
    exprs = []
    for h, d in HORIZON_DAYS.items():
        logret_name, price_name, change_name, up_name = target_names(h)
        logret = pl.col(logret_name)
        exprs += [
            pl.col("price_chaos").shift(-d).alias(price_name),
            (logret.exp() - 1.0).alias(change_name),
            (logret > 0).cast(pl.Int8).alias(up_name),
        ]
    return exprs
