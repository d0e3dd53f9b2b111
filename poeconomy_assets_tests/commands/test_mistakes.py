"""A newcomer's ordinary mistakes get one line naming the problem, not a traceback (issue 23)."""

import subprocess
import sys
from pathlib import Path

import pytest


def _poeconomy(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "poeconomy_assets.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            ["backtest", "--dumps", "{missing}", "--test-league", "Affliction", "--json", "out.json"],
            "does not exist",
        ),
        (["demo", "--in-process", "--dumps", "{empty}"], "no poe.ninja dump files"),
        (["backtest", "--dumps", "{file}", "--test-league", "Affliction", "--json", "out.json"], "is a file"),
    ],
    ids=["backtest-missing-folder", "demo-empty-folder", "backtest-a-file"],
)
def test_a_bad_dumps_folder_is_one_line(command: list[str], expected: str, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "a.csv").write_text("League;Date;Get;Pay;Value;Confidence\n")
    places = {
        "{missing}": str(tmp_path / "nowhere"),
        "{empty}": str(tmp_path / "empty"),
        "{file}": str(tmp_path / "a.csv"),
    }
    done = _poeconomy(*[places.get(a, a) for a in command], cwd=tmp_path)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 2, done
    assert len(lines) == 1 and expected in lines[0], lines


def test_the_demo_takes_a_port() -> None:
    from poeconomy_assets.cli import build_parser

    args = build_parser().parse_args(["demo", "--port", "3111"])
    assert args.port == 3111
