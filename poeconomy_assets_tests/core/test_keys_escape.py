"""Keys made from hostile names stay inside the folder they are joined to."""

from pathlib import Path

import pytest

from poeconomy_assets.core.keys import key_from_name, name_from_key
from poeconomy_assets.resources.model_store import ModelStore


@pytest.mark.parametrize(
    "name", ["..", ".", "...", "../x", "a/../../b", "/etc/passwd", ".hidden", "..\\..", "a/..", "x\x00y"]
)
def test_key_is_one_path_component_that_is_not_dot_or_dotdot(name: str) -> None:
    key = key_from_name(name)
    assert key not in (".", "..") and not key.startswith(".")
    assert "/" not in key and "\\" not in key and "\x00" not in key
    assert name_from_key(key) == name


@pytest.mark.parametrize("currency", ["..", ".", "../../etc", "a/b"])
def test_model_folder_stays_under_base(tmp_path: Path, currency: str) -> None:
    base = tmp_path / "models"
    folder = ModelStore(base_dir=str(base)).directory(currency, "1d").resolve()
    assert folder.is_relative_to(base.resolve()) and folder.parent.parent == base.resolve()


@pytest.mark.parametrize("horizon", ["..", "../1d", "1d/..", ""])
def test_model_folder_refuses_a_horizon_that_is_not_a_plain_name(tmp_path: Path, horizon: str) -> None:
    with pytest.raises(ValueError, match="horizon"):
        ModelStore(base_dir=str(tmp_path)).directory("Divine Orb", horizon)
