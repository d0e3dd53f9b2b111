"""One currency × horizon's forecasts, one row per as-of date, with calibrated intervals.

Rows: the last day of every league, and every day of the latest (live) league, so past forecasts can
be scored once their outcome exists. Each row is one forecast distribution (see
``core.uncertainty.distribution``): ``forecast_chaos`` is its median, ``expected_return`` the median return,
``lower_95`` … ``upper_95`` its quantiles and ``prob_up`` read from it. Each row says where its point
forecast came from:

- ``model``: the trained model on a day whose outcome it has not seen (the live forecast);
- ``walk_forward``: a day of a validation league: the out-of-fold forecast made by a model trained only
  on earlier leagues (honest: it never saw the outcome). Its interval is calibrated without that
  league's own residuals;
- ``in_sample``: a day whose outcome the model was trained on; kept for the chart, never scored.

``skill_gate`` says whether the point forecast is the model's move (``model``) or "no change" (``no change``:
the model did not prove skill on its validation days; ``core.models.skill_gate``), ``skill_gate_reason`` why.

Prices are in chaos and in divines, converted with the Divine Orb's own price on the as-of date (or its latest price
at most DIVINE_STALENESS_DAYS earlier in the same league, when that day has none).
"""

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from poeconomy_assets.core.features import target_column
from poeconomy_assets.core.models import SkillGate
from poeconomy_assets.core.prices import DIVINE
from poeconomy_assets.core.schemas import HORIZON_DAYS
from poeconomy_assets.core.uncertainty.calibration import (
    calibration_frame,
    empty_calibration,
    model_calibration,
    price_bands,
)
from poeconomy_assets.core.uncertainty.intervals import PhaseCalibrator

DIVINE_STALENESS_DAYS = 3  # a Divine Orb price older than this is not used to convert

BOUNDS = ("lower_80", "upper_80", "lower_95", "upper_95", "lower_50", "upper_50")


def forecast_rows(features: pl.DataFrame) -> pl.DataFrame:
    """The as-of rows of one currency: each league's last day and every day of the latest league."""
    latest = features.sort("date")["league"][-1]
    last_days = features.sort("date").group_by("league", maintain_order=True).last()
    return pl.concat(
        [last_days.filter(pl.col("league") != latest), features.filter(pl.col("league") == latest)],
        how="diagonal_relaxed",
    ).sort("date")


def build_forecasts(features: pl.DataFrame, model: Any, pooled: pl.DataFrame | None = None) -> pl.DataFrame:
    """Forecasts of ``model.currency`` at ``model.horizon`` from ``features`` (every currency's, or only its
    own; the Divine Orb's rows give the divine prices). ``pooled`` holds every currency's calibration rows
    (see ``core.calibration``); the model's own walk-forward residuals are always used first."""
    currency, horizon = model.currency, model.horizon
    gate = getattr(model, "gate", None) or SkillGate.from_dict(None)
    days = HORIZON_DAYS[horizon]
    own_features = features.filter(pl.col("currency") == currency)
    if own_features.is_empty():
        raise ValueError(f"no features for {currency!r}")
    own = model_calibration(own_features, model)
    pooled = own if pooled is None or pooled.is_empty() else pooled
    rows = forecast_rows(own_features)
    target = target_column(horizon)
    live = np.asarray(model.predict(rows), dtype=float)
    walk = (
        rows.select("league", "date")
        .join(
            own.select("league", "date", (pl.col("target") - pl.col("residual")).alias("_oof")),
            on=["league", "date"],
            how="left",
            maintain_order="left",
        )["_oof"]
        .to_numpy()
    )
    walk = np.asarray(walk, dtype=float)
    known = rows[target].is_not_null().to_numpy()
    source = np.where(np.isfinite(walk), "walk_forward", np.where(known, "in_sample", "model"))
    point = np.where(np.isfinite(walk), walk, live)

    parts = []
    live_band = PhaseCalibrator(own, pooled, days, seed=0)
    for league in rows["league"].unique(maintain_order=True).to_list():
        in_league = (rows["league"] == league).to_numpy()
        for kind in ("walk_forward", "other"):
            mask = in_league & (
                (source == "walk_forward") if kind == "walk_forward" else (source != "walk_forward")
            )
            if not mask.any():
                continue
            band = live_band
            if kind == "walk_forward":  # calibrated without the residuals of the league it forecasts
                band = PhaseCalibrator(
                    own.filter(pl.col("league") != league),
                    pooled.filter(pl.col("league") != league),
                    days,
                    seed=0,
                )
            index = np.flatnonzero(mask)
            parts.append(
                price_bands(rows[index], point[index], band, horizon).with_columns(_row=pl.Series(index))
            )
    bands = pl.concat(parts).sort("_row").drop("_row")
    price = rows["price_chaos"].to_numpy()
    median = bands["median_chaos"].to_numpy()
    frame = (
        pl.DataFrame(
            {
                "league": rows["league"],
                "currency": currency,
                "horizon": horizon,
                "as_of": rows["date"],
                "league_day": rows["league_day"],
                "price_chaos": price,
                "forecast_chaos": median,
                "expected_return": median / price - 1,
                "forecast_source": source,
                "actual_chaos": rows[f"target_price_{horizon}"]
                if f"target_price_{horizon}" in rows.columns
                else pl.Series([None] * rows.height, dtype=pl.Float64),
            }
        )
        .hstack(bands.drop("median_chaos"))
        .with_columns(
            validation_rel_mae=pl.lit(float(model.metrics.get("rel_mae", np.nan))),
            skill_gate=pl.lit(gate.label),
            skill_gate_reason=pl.lit(gate.reason),
        )
    )
    return add_divine_columns(frame, features)


def add_divine_columns(frame: pl.DataFrame, features: pl.DataFrame) -> pl.DataFrame:
    """``divine_chaos`` (the Divine Orb's chaos price on the as-of date, or its latest price in the same
    league at most ``DIVINE_STALENESS_DAYS`` earlier when that day has none) and every price in divines
    (null when the league has no Divine Orb price that recent)."""
    divine = (
        features.filter(pl.col("currency") == DIVINE)
        .select("league", pl.col("date").alias("as_of"), pl.col("price_chaos").alias("divine_chaos"))
        .sort("as_of")
    )
    if divine.is_empty():
        frame = frame.with_columns(divine_chaos=pl.lit(None, dtype=pl.Float64))
    else:
        order = frame.with_row_index("_row")
        frame = (
            order.sort("as_of")
            .join_asof(
                divine,
                on="as_of",
                by="league",
                strategy="backward",
                tolerance=dt.timedelta(days=DIVINE_STALENESS_DAYS),
                check_sortedness=False,
            )
            .sort("_row")
            .drop("_row")
        )
    columns = ("price", "forecast", *BOUNDS)
    return frame.with_columns(
        (pl.col(f"{c}_chaos" if c in ("price", "forecast") else c) / pl.col("divine_chaos")).alias(
            f"{c}_divine"
        )
        for c in columns
        if (f"{c}_chaos" if c in ("price", "forecast") else c) in frame.columns
    )


def stored_calibration(
    features: pl.DataFrame, manifests: list[tuple[dict, np.ndarray]], horizon: str
) -> pl.DataFrame:
    """Every currency's calibration rows at ``horizon`` from stored models (manifest, residuals)."""
    parts = [
        calibration_frame(
            features, m["currency"], horizon, residuals, m["info"].get("validation_leagues", [])
        )
        for m, residuals in manifests
    ]
    parts = [p for p in parts if not p.is_empty()]
    return pl.concat(parts) if parts else empty_calibration()
