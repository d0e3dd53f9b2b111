from pathlib import Path

import pytest

from poeconomy_assets.core.files import atomic_write, atomic_write_text


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.json"
    atomic_write_text(path, "first")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_text() == "first"
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]
    atomic_write_text(path, "second")
    assert path.read_text() == "second"
