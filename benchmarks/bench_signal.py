"""What each family of market signal (spread, confidence, breadth, tier) adds, on held-out leagues.

    nice -n 10 .venv/bin/python benchmarks/bench_signal.py [--leagues Crucible,Ancestor,Affliction]
        [--variants base,spread,confidence,breadth,tier,all] [--trees 200]

A quick loop, not the product's ensemble: one pooled LightGBM (the family's defaults, fewer trees) per
horizon, trained on every league before the held-out one, with the base features alone and with each
signal family added. The score is the product's: the mean over items of the item's forecast MAE over
persistence's (relative MAE) on the held-out league, plus the share of items below 1.0. No
shrink toward persistence, so the figures are above the product's; only the differences matter.
"""

import argparse
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl

from poeconomy_assets.core.evaluation import league_order, train_leagues_for
from poeconomy_assets.core.features import (
    SIGNAL_FAMILIES,
    build_features,
    feature_columns,
    market_signal,
    signal_columns,
    target_column,
)
from poeconomy_assets.core.ingest import read_dump_dir
from poeconomy_assets.core.models.families import _lgb_defaults
from poeconomy_assets.core.schemas import HORIZONS

ROOT = Path(__file__).resolve().parents[1]


def relative_mae(rows: pl.DataFrame, target: str, predicted: np.ndarray) -> tuple[float, float]:
    price = rows["price_chaos"].to_numpy()
    actual = price * np.exp(rows[target].to_numpy())
    scored = pl.DataFrame(
        {
            "currency": rows["currency"],
            "model": np.abs(actual - price * np.exp(predicted)),
            "persistence": np.abs(actual - price),
        }
    )
    per = (
        scored.group_by("currency")
        .agg(pl.col("model").sum() / pl.col("persistence").sum())
        .filter(pl.col("model").is_finite())["model"]
    )
    return float(per.mean()), float((per < 1.0).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dumps", type=Path, default=ROOT.parent / "shared" / "data" / "poe-ninja")
    parser.add_argument("--leagues", default="Crucible,Ancestor,Affliction")
    parser.add_argument("--variants", default="base," + ",".join(SIGNAL_FAMILIES) + ",all")
    parser.add_argument("--horizons", default=",".join(HORIZONS))
    parser.add_argument("--trees", type=int, default=200)
    args = parser.parse_args()
    prices = read_dump_dir(args.dumps).prices
    held_out = args.leagues.split(",")
    last = max(league_order(prices).index(league) for league in held_out)
    prices = prices.filter(pl.col("league").is_in(league_order(prices)[: last + 1]))
    started = time.perf_counter()
    features = build_features(prices, signal=()).join(
        market_signal(prices), on=["league", "currency", "date"], how="left"
    )
    base = [c for c in feature_columns(features) if c not in signal_columns()]
    print(f"features {features.shape} in {time.perf_counter() - started:.1f}s; {len(base)} base columns")
    codes = {c: i for i, c in enumerate(sorted(features["currency"].unique().to_list()))}
    features = features.with_columns(
        pl.col("currency").replace_strict(codes, return_dtype=pl.Int64).alias("currency_code")
    )
    params = {**_lgb_defaults(), "n_estimators": args.trees, "learning_rate": 0.03 * 300 / args.trees}
    print("| variant | horizon | " + " | ".join(held_out) + " | mean | items < 1.0 |")
    print("|---|---|" + "---|" * len(held_out) + "---|---|")
    for variant in args.variants.split(","):
        thin = variant.endswith(
            "~thin"
        )  # older leagues' late rows thinned to a third, as the pooled model does
        variant = variant.removesuffix("~thin")
        families = (
            [] if variant == "base" else list(SIGNAL_FAMILIES) if variant == "all" else variant.split("+")
        )
        names = [*base, *signal_columns(families), "currency_code"]
        for horizon in args.horizons.split(","):
            target = target_column(horizon)
            scores, shares = [], []
            for league in held_out:
                earlier = train_leagues_for(prices, league)
                train = features.filter(pl.col("league").is_in(earlier) & pl.col(target).is_not_null())
                if thin:
                    keep = (
                        (pl.col("league_day") < 28)
                        | pl.col("league").is_in(earlier[-3:])
                        | (pl.col("date").cast(pl.Int64) % 3 == 0)
                    )
                    train = train.filter(keep)
                test = features.filter(
                    (pl.col("league") == league)
                    & pl.col(target).is_not_null()
                    & pl.col("currency").is_in(train["currency"].unique().to_list())
                )
                p = dict(params)
                rounds = int(p.pop("n_estimators"))
                p.update(
                    objective="l1",
                    bagging_freq=1,
                    verbose=-1,
                    seed=0,
                    num_threads=1,
                    max_bin=63,
                    min_data_in_leaf=p.pop("min_child_samples"),
                    deterministic=True,
                    force_row_wise=True,
                )
                model = lgb.train(
                    p,
                    lgb.Dataset(train.select(names).to_numpy().astype(np.float64), train[target].to_numpy()),
                    num_boost_round=rounds,
                )
                score, share = relative_mae(test, target, model.predict(test.select(names).to_numpy()))
                scores.append(score)
                shares.append(share)
            print(
                f"| {variant}{'~thin' if thin else ''} | {horizon} | "
                + " | ".join(f"{s:.4f}" for s in scores)
                + f" | {np.mean(scores):.4f} | {np.mean(shares):.1%} |",
                flush=True,
            )
    print(f"\nwall time {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
