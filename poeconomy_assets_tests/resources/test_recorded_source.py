"""The recorded-fixture source on the spec's composed payloads: the same answers the HTTP client gives."""

from pathlib import Path

import pytest

from poeconomy_assets.core.ingest.poe_watch_payloads import parse_history
from poeconomy_assets.core.ingest.sources import SourceError
from poeconomy_assets.resources.price_source import PriceSource
from poeconomy_assets.resources.recorded_source import RecordedPriceSource, league_slug

from ..conftest import SPEC_FIXTURES


def _source(**files: str) -> RecordedPriceSource:
    return RecordedPriceSource(directory=str(SPEC_FIXTURES), files=files)


def test_answers_by_the_naming_rule_and_by_the_files_map() -> None:
    source = _source(**{"/history?league=Settlers&id=2": "history_settlers_divine.json"})
    assert isinstance(source, PriceSource)
    leagues = source.get_leagues()
    assert leagues.data[0]["name"] == "Settlers" and leagues.attempts == 1 and leagues.errors == []
    items = source.get_items("Settlers", "currency")
    assert len(items.data) == 18 and items.url.endswith("get_currency_settlers.json")
    assert items.body == (SPEC_FIXTURES / "get_currency_settlers.json").read_bytes()  # archived as recorded
    points, bad = parse_history(source.get_history("Settlers", 2).data, "history")
    assert len(points) == 10 and bad == 0
    assert source.breaker_status() == "none" and source.refusing_calls() is None


def test_a_request_without_a_recording_is_no_data_except_the_league_list(tmp_path: Path) -> None:
    fragments = _source().get_items("Settlers", "fragment")
    assert fragments.data is None and fragments.body == b"null"  # POE Watch's "no data", not zero prices
    assert _source().get_history("Settlers", 999).data is None
    with pytest.raises(SourceError, match="no recording of /leagues"):
        RecordedPriceSource(directory=str(tmp_path)).get_leagues()


def test_files_outside_the_folder_and_bodies_that_are_not_json_are_refused(tmp_path: Path) -> None:
    (tmp_path / "get_currency_settlers.json").write_text("<html>502</html>")
    (tmp_path.parent / "secret.json").write_text("[]")
    source = RecordedPriceSource(
        directory=str(tmp_path), files={"/get?league=Settlers&category=fragment": "../secret.json"}
    )
    with pytest.raises(SourceError, match="HTML page"):
        source.get_items("Settlers", "currency")
    with pytest.raises(SourceError, match="outside"):
        source.get_items("Settlers", "fragment")


def test_league_names_become_file_names_without_separators() -> None:
    assert league_slug("Hardcore Settlers") == "hardcore_settlers"
    assert league_slug("../../etc/passwd") == "etc_passwd"
