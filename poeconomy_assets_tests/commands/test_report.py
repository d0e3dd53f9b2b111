"""``poeconomy report`` reads what the graph's own stores wrote for a league, in each format."""

import json
from pathlib import Path

import polars as pl
import pytest

from poeconomy_assets.cli import main
from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.defs.resources import build_resources

LEAGUE = "Mercenaries of Trarthus"  # a name whose partition key differs from it
RANKING = pl.DataFrame({"rank": [1, 2], "currency": ["Divine Orb", "Chaos Orb"], "price_chaos": [180.5, 1.0]})


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A POECONOMY_HOME holding one league's report, written by the stores the investment_report asset uses."""
    monkeypatch.setenv("POECONOMY_HOME", str(tmp_path))
    monkeypatch.delenv("POECONOMY_PRICE_STORE_URL", raising=False)
    store = build_resources(tmp_path)["report_store"]
    store.write(LEAGUE, "html", "<html>the report</html>")
    store.write(LEAGUE, "json", json.dumps({"league": LEAGUE, "currencies": RANKING.to_dicts()}))
    store.write(LEAGUE, "csv", f"# league: {json.dumps(LEAGUE)}\n" + RANKING.write_csv())
    return tmp_path


def test_csv_json_and_html_on_standard_output(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--league", LEAGUE]) == 0
    assert pl.read_csv(capsys.readouterr().out.encode(), comment_prefix="#").equals(RANKING)
    assert main(["report", "--league", LEAGUE, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["league"] == LEAGUE and document["currencies"] == RANKING.to_dicts()
    assert main(["report", "--league", LEAGUE, "--format", "html"]) == 0
    assert capsys.readouterr().out == "<html>the report</html>"


def test_out_writes_a_file(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.csv"
    assert main(["report", "--league", LEAGUE, "--out", str(out)]) == 0
    assert pl.read_csv(out, comment_prefix="#").equals(RANKING)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("fmt", ["csv", "html"])
def test_a_league_without_a_report_says_so(home: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    assert main(["report", "--league", "Settlers", "--format", fmt]) == 2
    err = capsys.readouterr().err
    assert "no report for league 'Settlers'" in err and "materialize investment_report" in err
    assert key_from_name("Settlers") in err  # the file it looked for
