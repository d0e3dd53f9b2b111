"""forecast_scorecard's drift check, and drift_sensor requesting retraining of exactly the drifting
currency × horizon partitions, against a real (temporary) Dagster instance."""

from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.core.schemas import HORIZON_DAYS
from poeconomy_assets.definitions import ASSET_MODULES
from poeconomy_assets.defs.drift import drift_sensor
from poeconomy_assets.defs.partitions import currency_horizon_key, register_partitions
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.defs.scorecards import DRIFT_CHECK_KEY
from poeconomy_assets.sim.simulator import SimulationConfig, simulate_prices

MARKET = SimulationConfig(
    n_leagues=1, n_currencies=4, seed=5, min_days=50, max_days=50, missing_rate=0.0, late_share=0.0
)


def _write_inputs(
    home: Path, bad: set[tuple[str, str]], wide: set[tuple[str, str]] = frozenset()
) -> tuple[str, list[str]]:
    """daily_prices and price_forecasts files as the graph writes them; forecasts are exact with a 2% band
    that misses one day in five (about 80% coverage, as calibrated bands should), except the (currency,
    horizon) pairs in ``bad``: 40% too high, and in ``wide``: a band that never misses (too wide)."""
    prices = simulate_prices(MARKET).select(
        pl.col("League").alias("league"),
        pl.col("Get").alias("currency"),
        pl.col("Date").alias("date"),
        pl.col("Value").alias("price_chaos"),
    )
    league = prices["league"][0]
    data = home / "data"
    (data / "daily_prices").mkdir(parents=True)
    prices.write_parquet(data / "daily_prices" / f"{key_from_name(league)}.parquet")
    currencies = prices["currency"].unique().sort().to_list()
    for currency in currencies:
        for horizon, days in HORIZON_DAYS.items():
            own = prices.filter(pl.col("currency") == currency).sort("date")
            future = own.select(
                (pl.col("date") - pl.duration(days=days)).alias("date"), pl.col("price_chaos").alias("f")
            )
            rows = own.join(future, on="date", how="left").with_columns(
                pl.col("f").fill_null(pl.col("price_chaos"))
            )
            point = rows["f"].to_numpy() * (1.4 if (currency, horizon) in bad else 1.0)
            miss = (np.arange(point.size) % 5 == 0) & ((currency, horizon) not in wide)
            center = np.where(
                miss, point * 1.03, point
            )  # the band around 3% too high: the outcome is outside
            frame = rows.select(
                "league", "currency", pl.col("date").alias("as_of"), "price_chaos"
            ).with_columns(
                horizon=pl.lit(horizon),
                forecast_source=pl.lit("model"),
                forecast_chaos=center,
                lower_80=center * 0.98,
                upper_80=center * 1.02,
                lower_95=center * 0.97,
                upper_95=center * 1.03,
            )
            path = data / "price_forecasts" / key_from_name(currency) / f"{horizon}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(path)
    return league, currencies


def _score(
    tmp_path: Path,
    instance: dg.DagsterInstance,
    bad: set[tuple[str, str]],
    wide: set[tuple[str, str]] = frozenset(),
) -> dg.ExecuteInProcessResult:
    league, currencies = _write_inputs(tmp_path / "home", bad, wide)
    register_partitions(instance, [league], currencies)
    return dg.materialize(
        dg.load_assets_from_modules(ASSET_MODULES),
        selection=["forecast_scorecard"],
        resources=build_resources(tmp_path / "home", tmp_path / "dumps"),
        instance=instance,
    )


def _context(instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorEvaluationContext:
    from poeconomy_assets.definitions import build_defs

    defs = build_defs(build_resources(Path("/nonexistent")))  # resources are not used by the sensor
    return dg.build_sensor_context(
        instance=instance, instance_ref=instance.get_ref(), cursor=cursor, definitions=defs
    )


@pytest.fixture
def instance(tmp_path: Path):
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        yield instance


def test_sensor_requests_retraining_of_the_drifting_partitions(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    bad = {("Exalted Orb", "7d"), ("Orb of Alchemy", "1d")}
    result = _score(tmp_path, instance, bad)
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    # 1d pair: MASE is only a verdict at 7d, but its 80% coverage (0%) fails there too.
    expected = {str(currency_horizon_key(c, h)) for c, h in bad}
    assert set(evaluation.metadata["drifting_partitions"].value) == expected

    context = _context(instance)
    tick = drift_sensor.evaluate_tick(context)
    assert {r.partition_key for r in tick.run_requests} == expected
    assert all(r.job_name in (None, "training_job") for r in tick.run_requests)
    assert len({r.run_key for r in tick.run_requests}) == len(expected)
    for request in tick.run_requests:  # the keys are real partitions of training_job
        currency, horizon = str(request.partition_key).split("|")
        assert currency in instance.get_dynamic_partitions("currency") and horizon in HORIZON_DAYS

    again = drift_sensor.evaluate_tick(_context(instance, tick.cursor))
    assert not again.run_requests, "the same check evaluation is handled once"


def test_over_wide_bands_fire_the_check_and_the_sensor(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    """Bands that hold every outcome (100% > 90%) are a calibration failure too: the check names them as
    too wide and the sensor asks for their retraining; the calibrated pairs beside them pass."""
    _, currencies = _write_inputs(tmp_path / "probe", set())
    wide = {(currencies[0], "3d"), (currencies[1], "1d")}
    result = _score(tmp_path, instance, bad=set(), wide=wide)
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    expected = {str(currency_horizon_key(c, h)) for c, h in wide}
    assert set(evaluation.metadata["drifting_partitions"].value) == expected
    assert (
        "too wide" in evaluation.metadata["reasons"].value
        and "too narrow" not in evaluation.metadata["reasons"].value
    )
    card = pl.read_parquet(tmp_path / "home" / "data" / "forecast_scorecard" / "__all__.parquet")
    assert set(card.filter(pl.col("bands") == "too wide").select("currency", "horizon").rows()) == wide
    assert card.filter(pl.col("bands") != "too wide")["coverage_80"].max() <= 0.9
    tick = drift_sensor.evaluate_tick(_context(instance))
    assert {r.partition_key for r in tick.run_requests} == expected


def test_no_drift_no_request(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    result = _score(tmp_path, instance, bad=set())
    assert result.get_asset_check_evaluations()[0].passed
    assert instance.get_latest_asset_check_evaluation_record(DRIFT_CHECK_KEY) is not None
    tick = drift_sensor.evaluate_tick(_context(instance))
    assert not tick.run_requests


def test_sensor_waits_for_a_first_evaluation(instance: dg.DagsterInstance) -> None:
    tick = drift_sensor.evaluate_tick(_context(instance))
    assert not tick.run_requests and "not been evaluated" in (tick.skip_message or "")


def test_sensor_is_registered_with_training_job() -> None:
    from poeconomy_assets.definitions import defs

    sensor = defs.resolve_sensor_def("drift_sensor")
    assert sensor.job_name == "training_job"
    assert sensor.minimum_interval_seconds == 300  # at most one retraining request per 5 minutes
