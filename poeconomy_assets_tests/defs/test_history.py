"""Importing past leagues: bad input is named precisely and never costs what was already imported."""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

MARKET = SimulationConfig(n_leagues=2, n_currencies=3, seed=3, min_days=20, max_days=25)


@pytest.fixture
def setup(tmp_path: Path):
    dumps, home = tmp_path / "dumps", tmp_path / "home"
    write_dumps(MARKET, dumps)
    defs = build_defs(build_resources(home, dumps))
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        yield dumps, home, defs, instance


def _import(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("history_job").execute_in_process(instance=instance, raise_on_error=False)


def _stored(home: Path) -> pl.DataFrame:
    return pl.read_parquet(home / "data" / "poe_ninja_history" / "__all__.parquet")


def test_malformed_file_fails_with_file_and_line_and_keeps_previous_import(setup) -> None:
    dumps, home, defs, instance = setup
    assert _import(defs, instance).success
    before, leagues_before = _stored(home), instance.get_dynamic_partitions("league")

    (dumps / "Broken.currency.csv").write_text(
        "League,Date,Get,Pay,Value,Confidence\nBroken,2020-01-01,X,Chaos Orb,1,High\n"
    )
    result = _import(defs, instance)

    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.to_string()  # the DumpError is the cause of the step error
    assert "Broken.currency.csv" in message and "line 1" in message, message
    assert _stored(home).equals(before)
    assert instance.get_dynamic_partitions("league") == leagues_before


def test_bad_rows_are_quarantined_and_counted_not_dropped(setup) -> None:
    dumps, home, defs, instance = setup
    (dumps / "Extra.currency.csv").write_text(
        "League;Date;Get;Pay;Value;Confidence\n"
        "Extra;2030-01-01;Divine Orb;Chaos Orb;100;High\n"
        "Extra;2030-01-01;Exalted Orb;Chaos Orb;-3;High\n"  # negative price
        "Extra;2030-01-02;Exalted Orb;Chaos Orb;abc;High\n"  # non-numeric
        "Extra;2030-01-02;Divine Orb;Chaos Orb;101;Maybe\n"  # unknown confidence word
    )
    result = _import(defs, instance)
    assert result.success
    materialization = result.asset_materializations_for_node("poe_ninja_history")[0]
    assert materialization.metadata["quarantined_rows"].value == 3
    quarantine = materialization.metadata["quarantine"].value
    assert "Extra.currency.csv" in quarantine and "Value" in quarantine and "Confidence" in quarantine
    extra = _stored(home).filter(pl.col("league") == "Extra")
    assert extra.height == 1 and extra["price_chaos"].to_list() == [100.0]


def test_items_without_enough_history_get_no_partition_and_are_listed_with_the_reason(setup) -> None:
    """An item priced on 3 days is kept in the history (market-wide features read it) but gets no partition."""
    dumps, home, defs, instance = setup
    (dumps / "Extra.currency.csv").write_text(
        "League;Date;Get;Pay;Value;Confidence\n"
        + "".join(f"Extra;2030-01-0{d};Rare Shard;Chaos Orb;{d};Low\n" for d in range(1, 4))
    )
    result = _import(defs, instance)
    assert result.success
    metadata = result.asset_materializations_for_node("poe_ninja_history")[0].metadata
    assert metadata["items_skipped"].value == 1 and metadata["items_forecast"].value == MARKET.n_currencies
    assert (
        "Rare Shard" in metadata["items_skipped_reasons"].value
        and "only 3 priced days" in metadata["items_skipped_reasons"].value
    )
    assert key_from_name("Rare Shard") not in instance.get_dynamic_partitions("currency")
    assert _stored(home).filter(pl.col("currency") == "Rare Shard").height == 3
