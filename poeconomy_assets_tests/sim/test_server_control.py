"""The local POE Watch server cannot be turned against its host: token, fixtures folder, validation, 400s."""

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
import requests

from poeconomy_assets.sim.live_market import SimulatedMarket
from poeconomy_assets.sim.poe_watch_server import PoeWatchServer

from ..conftest import SERVER_NOW, SPEC_FIXTURES

TOKEN = "test-token-1234"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[PoeWatchServer]:
    monkeypatch.setenv("POECONOMY_CONTROL_TOKEN", TOKEN)
    market = SimulatedMarket(n_currencies=3, seed=5, recompute_seconds=300)
    with PoeWatchServer(
        market, now=datetime.fromisoformat(SERVER_NOW), fixtures_dir=SPEC_FIXTURES
    ) as running:
        yield running


def _post(server: PoeWatchServer, body: bytes | str, token: str | None = TOKEN) -> requests.Response:
    headers = {"X-Control-Token": token} if token is not None else {}
    return requests.post(f"{server.url}/_control", data=body, headers=headers, timeout=5)


@pytest.mark.parametrize("token", [None, "", "wrong"])
def test_control_without_the_token_is_refused_and_changes_nothing(server: PoeWatchServer, token) -> None:
    before = server.state()
    answer = _post(server, json.dumps({"fault": {"kind": "500", "times": None}}), token=token)
    assert answer.status_code == 403 and "token" in answer.json()["error"]
    headers = {"X-Control-Token": token} if token is not None else {}
    assert requests.get(f"{server.url}/_control", headers=headers, timeout=5).status_code == 403
    assert server.state()["faults"] == before["faults"] == []
    assert _post(server, json.dumps({"fault": {"kind": "500"}})).status_code == 200  # with it: accepted


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        str(SPEC_FIXTURES / ".." / ".." / "README.md"),
        "../leagues.json",
        "leagues.json/../../../../etc/hostname",
    ],
)
def test_leagues_file_outside_the_fixtures_folder_is_refused(server: PoeWatchServer, path: str) -> None:
    leagues = requests.get(f"{server.url}/leagues", timeout=5).json()
    answer = _post(server, json.dumps({"leagues_file": path}))
    assert answer.status_code == 400 and "fixtures" in answer.json()["error"]
    assert requests.get(f"{server.url}/leagues", timeout=5).json() == leagues


def test_leagues_file_inside_the_fixtures_folder_is_served(server: PoeWatchServer) -> None:
    assert _post(server, json.dumps({"leagues_file": "leagues.json"})).status_code == 200
    names = [league["name"] for league in requests.get(f"{server.url}/leagues", timeout=5).json()]
    assert names[:2] == ["Settlers", "Hardcore Settlers"]


def test_without_a_fixtures_folder_no_file_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POECONOMY_CONTROL_TOKEN", TOKEN)
    with PoeWatchServer(SimulatedMarket(n_currencies=2, seed=1)) as bare:
        answer = _post(bare, json.dumps({"leagues_file": str(SPEC_FIXTURES / "leagues.json")}))
        assert answer.status_code == 400 and "fixtures" in answer.json()["error"]


@pytest.mark.parametrize(
    "change",
    [
        {"speed": "fast"},
        {"speed": -1},
        {"speed": float("inf")},
        {"now": "yesterday"},
        {"advance_seconds": "x"},
        {"recompute_seconds": 0},
        {"leagues": "Settlers"},
        {"fault": {"kind": "teapot"}},
        {"fault": {"kind": "500", "times": "many"}},
        {"fault": {"kind": "latency", "latency": 1e9}},
        {"fault": "500"},
        {"unknown_key": 1},
        {"fault": {"kind": "500"}, "speed": "fast"},  # one bad value: the good one is not applied either
    ],
)
def test_bad_control_values_are_refused_before_any_state_changes(
    server: PoeWatchServer, change: dict
) -> None:
    before = server.state()
    answer = _post(server, json.dumps(change))
    assert answer.status_code == 400, answer.text
    after = server.state()
    assert (after["speed"], after["faults"]) == (before["speed"], before["faults"])
    assert (
        requests.get(
            f"{server.url}/get", params={"league": "Simulated", "category": "currency"}, timeout=5
        ).status_code
        == 200
    )  # the server still answers


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe", b'"just a string"', b"null"])
def test_a_malformed_body_gets_a_400(server: PoeWatchServer, body: bytes) -> None:
    answer = _post(server, body)
    assert answer.status_code == 400 and answer.json()["error"]


def test_an_oversized_body_gets_a_413(server: PoeWatchServer) -> None:
    answer = _post(server, b'{"leagues": [' + b'"x",' * 100_000 + b'"x"]}')
    assert answer.status_code == 413


def test_the_token_comes_from_the_environment_or_is_generated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POECONOMY_CONTROL_TOKEN", raising=False)
    with PoeWatchServer(SimulatedMarket(n_currencies=2, seed=1)) as generated:
        assert len(generated.control_token) >= 20
        assert _post(generated, b"{}", token=generated.control_token).status_code == 200
        assert _post(generated, b"{}", token=TOKEN).status_code == 403
