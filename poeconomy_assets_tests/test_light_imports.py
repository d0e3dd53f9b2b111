"""The code location, the CLI's help and `report` load without the model libraries: every run process (UI,
daemon, sensors, ingestion) imports the code location first, and lightgbm, xgboost, scikit-learn and scipy cost
seconds of CPU that only training and forecasting steps need (they import them on first use)."""

import subprocess
import sys

import pytest

HEAVY = ("lightgbm", "xgboost", "sklearn", "scipy")
PROBE = "import sys; {code}\nprint(sorted(m for m in {heavy!r} if m in sys.modules))"


@pytest.mark.parametrize(
    "code",
    [
        "import poeconomy_assets.definitions",
        "from poeconomy_assets.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
        "from poeconomy_assets.cli import main\ntry:\n    main(['report', '--help'])\nexcept SystemExit:\n    pass",
    ],
)
def test_no_model_library_is_imported(code: str) -> None:
    out = (
        subprocess.run(
            [sys.executable, "-c", PROBE.format(code=code, heavy=HEAVY)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert out == "[]", f"{code!r} imported {out}"


def test_the_probe_sees_a_model_library_when_one_is_imported() -> None:
    """The probe itself works: importing the families' fit path pulls lightgbm in."""
    code = "from poeconomy_assets.core.models.families import _lgb_load"
    out = (
        subprocess.run(
            [sys.executable, "-c", PROBE.format(code=code + "\nimport lightgbm", heavy=HEAVY)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert "lightgbm" in out
