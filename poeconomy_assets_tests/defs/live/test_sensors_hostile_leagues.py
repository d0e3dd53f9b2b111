"""Issue 21: one hostile /leagues entry never stops live ingestion of the other leagues."""

import json

import pytest

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.defs.live.sensors import ingestion_sensor, new_league_sensor

from ...conftest import fast_client
from ..conftest import Live
from .test_sensors import _tick

HOSTILE_NAMES = ["Simulated \ud800", "Nul\x00League", "Std\u202eevil", "L" * 1_000_000, "\ufb2c" * 34]


@pytest.mark.parametrize("bad", HOSTILE_NAMES, ids=["surrogate", "nul", "rlo", "1MB", "nfc-grows"])
def test_a_bad_league_entry_is_skipped_and_the_valid_league_still_gets_its_run(live: Live, bad: str) -> None:
    live.resources = {
        **live.resources,
        "poe_watch": fast_client(live.server.url, live.tmp, read_timeout_seconds=5.0),
    }
    leagues = live.server.market.leagues()
    start = next(lg["start_date"] for lg in leagues if lg["name"] == "Simulated")
    live.server.control(
        {"leagues": [{"name": bad, "start_date": start}, *leagues], "now": "2025-06-20T12:00:03Z"}
    )
    live.instance.add_dynamic_partitions("league", ["Simulated"])
    tick = _tick(live, ingestion_sensor, None)
    (request,) = tick.run_requests
    assert request.partition_key == "Simulated"
    assert json.loads(tick.cursor)["leagues"] == ["Simulated"]
    # the hourly sensor does not announce it either (it would become a partition that fails every slot)
    announced = _tick(live, new_league_sensor, None)
    assert "no new league" in (announced.skip_message or "")


def test_a_bad_league_left_in_an_old_cursor_does_not_stop_the_others(live: Live) -> None:
    live.resources = {
        **live.resources,
        "poe_watch": fast_client(live.server.url, live.tmp, read_timeout_seconds=5.0),
    }
    live.server.control({"now": "2025-06-20T12:00:03Z"})
    live.instance.add_dynamic_partitions("league", ["Simulated"])
    now = live.server.clock.now().timestamp()
    cursor = json.dumps({"leagues": ["Simulated \ud800", "Simulated"], "checked_at": now, "slots": {}})
    (request,) = _tick(live, ingestion_sensor, cursor).run_requests
    assert request.partition_key == key_from_name("Simulated")
