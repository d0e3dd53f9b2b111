"""Issue 21: the local POE Watch server's control endpoint is all-or-nothing even at datetime's edges, a fast
clock never breaks later requests, and what it remembers of its callers is bounded."""

import json
from datetime import datetime

import pytest
import requests

from poeconomy_assets.sim.live_market import SimulatedMarket
from poeconomy_assets.sim.poe_watch_server import (
    MAX_TRACKED_PATHS,
    MAX_USER_AGENTS,
    OTHER_PATHS,
    SIM_MAX,
    PoeWatchServer,
)

from ..conftest import SERVER_NOW
from .test_server_control import TOKEN, _post


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("POECONOMY_CONTROL_TOKEN", TOKEN)
    with PoeWatchServer(
        SimulatedMarket(n_currencies=3, seed=5), now=datetime.fromisoformat(SERVER_NOW)
    ) as running:
        yield running


@pytest.mark.parametrize(
    "change",
    [
        {
            "clear_faults": True,
            "fault": {"kind": "500"},
            "now": "0001-01-01T00:00:00+14:00",
        },  # OverflowError in UTC
        {"fault": {"kind": "500"}, "now": "9999-12-31T23:59:59-23:59"},
        {"fault": {"kind": "500"}, "now": "1970-01-01T00:00:00Z"},
        {
            "fault": {"kind": "500"},
            "speed": 2,
            "advance_seconds": 10 * 365 * 86400,
            "now": "2099-12-01T00:00:00Z",
        },
    ],
)
def test_a_control_request_refused_at_datetime_edges_changes_nothing(
    server: PoeWatchServer, change: dict
) -> None:
    assert (
        _post(server, json.dumps({"fault": {"kind": "403", "times": None, "path": "/nothing"}})).status_code
        == 200
    )
    before = server.state()
    answer = _post(server, json.dumps(change))
    assert answer.status_code == 400 and (
        "outside" in answer.json()["error"] or "past" in answer.json()["error"]
    )
    after = server.state()
    assert (after["faults"], after["speed"]) == (before["faults"], before["speed"])  # not half applied
    assert after["now"][:16] == before["now"][:16]


def test_a_clock_at_speed_1e6_stops_at_the_end_of_simulated_time_and_requests_still_answer(
    server: PoeWatchServer,
) -> None:
    assert _post(server, json.dumps({"now": "2099-12-31T23:00:00Z", "speed": 1e6})).status_code == 200
    server.clock._mono -= 3600  # an hour of wall time later: 3.6e9 simulated seconds past the start
    assert server.clock.now() == SIM_MAX
    for path, params in (("/leagues", {}), ("/get", {"league": "Simulated", "category": "currency"})):
        assert requests.get(f"{server.url}{path}", params=params, timeout=10).status_code == 200
    assert (
        requests.get(f"{server.url}/_control", headers={"X-Control-Token": TOKEN}, timeout=5).status_code
        == 200
    )


def test_request_and_user_agent_logs_are_bounded() -> None:
    with PoeWatchServer(
        SimulatedMarket(n_currencies=2, seed=1), now=datetime.fromisoformat(SERVER_NOW)
    ) as srv:
        for i in range(MAX_TRACKED_PATHS + 500):  # what 20,000 distinct requests did, without the network
            srv.count(f"/x{i}" + "p" * 5000, f"agent {i} " + "u" * 5000)
        state = srv.state()
        assert len(state["requests"]) <= MAX_TRACKED_PATHS + 1 and state["requests"][OTHER_PATHS] >= 500
        assert sum(state["requests"].values()) == MAX_TRACKED_PATHS + 500  # every request still counted
        assert (
            len(state["user_agents"]) == MAX_USER_AGENTS
            and state["user_agents_not_kept"] == 500 + MAX_TRACKED_PATHS - MAX_USER_AGENTS
        )
        assert max(map(len, state["requests"])) <= 200 and max(map(len, state["user_agents"])) <= 200
