"""``poeconomy serve-api`` as a user runs it: a real process on 127.0.0.1 answering POE Watch requests."""

import json
import re
import subprocess
import sys
from pathlib import Path

import requests

from ..conftest import SPEC_FIXTURES

BIN = Path(sys.executable).parent


def test_serve_api_serves_leagues_items_and_faults() -> None:
    process = subprocess.Popen(
        [
            str(BIN / "poeconomy"),
            "serve-api",
            "--port",
            "0",
            "--leagues-file",
            str(SPEC_FIXTURES / "leagues.json"),
            "--now",
            "2024-08-05T12:00:00Z",
            "--currencies",
            "5",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()
        url = re.search(r"at (http://127\.0\.0\.1:\d+)", first).group(1)
        process.stdout.readline()
        token = re.search(r"control token: (\S+)", process.stdout.readline()).group(1)
        leagues = requests.get(f"{url}/leagues", timeout=5).json()
        assert [lg["name"] for lg in leagues][:2] == ["Settlers", "Hardcore Settlers"]
        items = requests.get(
            f"{url}/get", params={"league": "Settlers", "category": "currency"}, timeout=5
        ).json()
        assert {i["name"] for i in items} >= {"Divine Orb", "Exalted Orb"} and all(
            i["mean"] > 0 for i in items
        )
        history = requests.get(f"{url}/history", params={"league": "Settlers", "id": 1}, timeout=5).json()
        assert len(history) == 9 and history[0]["date"].startswith("2024-07-26")
        fault = json.dumps({"fault": {"kind": "429", "retry_after": 7}})
        assert requests.post(f"{url}/_control", data=fault, timeout=5).status_code == 403  # no token
        control = requests.post(f"{url}/_control", data=fault, headers={"X-Control-Token": token}, timeout=5)
        assert control.json()["faults"][0]["kind"] == "429"
        throttled = requests.get(f"{url}/leagues", timeout=5)
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
        assert requests.get(f"{url}/leagues", timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
