"""Dump import edge cases are named (file, line, reason), never silent."""

from pathlib import Path

import pytest

from poeconomy_assets.core.ingest.dumps import DumpError, read_dump_dir, read_dump_file

HEADER = "League;Date;Get;Pay;Value;Confidence"
ROWS = [f"Heist;2020-09-{d:02d};Divine Orb;Chaos Orb;4.{d};High" for d in range(18, 28)]


def _write(folder: Path, lines: list[str], name: str = "Heist.currency.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _reasons(imported) -> dict[int, str]:
    return dict(zip(imported.quarantine["line"], imported.quarantine["reason"]))


def test_a_league_split_across_two_files_is_refused_naming_both(tmp_path: Path) -> None:
    _write(tmp_path, [HEADER, *ROWS[:5]], "Heist.currency.csv")
    _write(tmp_path, [HEADER, *ROWS[5:]], "Heist-part2.currency.csv")
    with pytest.raises(
        DumpError,
        match=r"Heist.*Heist-part2\.currency\.csv.*Heist\.currency\.csv|"
        r"Heist.*Heist\.currency\.csv.*Heist-part2\.currency\.csv",
    ):
        read_dump_dir(tmp_path)


def test_dates_far_outside_the_league_are_quarantined(tmp_path: Path) -> None:
    far = [
        "Heist;2099-01-01;Divine Orb;Chaos Orb;4.0;High",
        "Heist;1970-01-02;Exalted Orb;Chaos Orb;4.0;High",
    ]
    imported = read_dump_file(_write(tmp_path, [HEADER, *ROWS, *far]))
    reasons = _reasons(imported)
    assert set(reasons) == {12, 13} and all("outside the league" in r for r in reasons.values())
    assert imported.prices.height == len(ROWS)


@pytest.mark.parametrize("name", ["Divine\x00Orb", "Divine\u202eOrb", "Divine\x1bOrb", "Divine\u200fOrb"])
def test_control_and_bidi_characters_in_names_are_quarantined(tmp_path: Path, name: str) -> None:
    imported = read_dump_file(_write(tmp_path, [HEADER, *ROWS, f"Heist;2020-09-20;{name};Chaos Orb;9;High"]))
    assert _reasons(imported) == {12: "control or bidi character in the name"}
    assert name not in imported.prices["currency"].to_list()


def test_an_empty_league_field_names_file_and_line(tmp_path: Path) -> None:
    imported = read_dump_file(_write(tmp_path, [HEADER, *ROWS, ";2020-09-20;Exalted Orb;Chaos Orb;9;High"]))
    row = imported.quarantine.row(0, named=True)
    assert (row["file"], row["line"], row["field"], row["reason"]) == (
        "Heist.currency.csv",
        12,
        "League",
        "empty league name",
    )
    assert imported.prices.height == len(ROWS)


def test_an_all_empty_league_file_fails_with_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path, [HEADER, ";2020-09-20;Exalted Orb;Chaos Orb;9;High"])
    with pytest.raises(DumpError, match=r"Heist\.currency\.csv line 2: .*League"):
        read_dump_dir(tmp_path, strict=True)


@pytest.mark.parametrize("separator", ["\u2028", "\u0085", "\u2029", "\x0b", "\x0c", "\x1c"])
def test_line_numbers_stay_right_when_a_name_holds_a_unicode_line_separator(
    tmp_path: Path, separator: str
) -> None:
    bad = f"Heist;2020-09-20;Odd{separator}Name;Chaos Orb;not-a-number;High"
    imported = read_dump_file(_write(tmp_path, [HEADER, *ROWS[:3], bad, *ROWS[3:]]))
    assert 5 in _reasons(imported)
    assert imported.quarantine.height == 1 and imported.prices.height == len(ROWS)
