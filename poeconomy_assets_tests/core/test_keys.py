import re

import pytest

from poeconomy_assets.core.keys import key_from_name, name_from_key


@pytest.mark.parametrize(
    "name",
    [
        "Xoph's Breachstone",
        "Divine Orb",
        "a,b|c[d]",
        "Hardcore Settlers",
        "~tilde~7C",
        "Orb (of) Ω é",
        "A/B\\C",
    ],
)
def test_round_trip(name: str) -> None:
    assert name_from_key(key_from_name(name)) == name


@pytest.mark.parametrize("bad", [",", "|", "[", "]", "/", "\\", "{", "}", "~", "%", "\n", "\t"])
def test_characters_dagster_mishandles_never_appear_in_keys(bad: str) -> None:
    key = key_from_name(f"x{bad}y")
    assert re.fullmatch(r"x~[0-9A-F]{2}y", key), key


def test_readable_names_stay_readable() -> None:
    assert key_from_name("Xoph's Breachstone") == "Xoph's Breachstone"


@pytest.mark.parametrize("bad", ["", " padded", "padded "])
def test_empty_or_padded_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="empty or has leading/trailing whitespace"):
        key_from_name(bad)
