"""The workspace loads the way `dagster dev` loads it, and the console script is installed."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_dagster_definitions_validate_passes_for_workspace_yaml(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(REPO), "POECONOMY_HOME": str(tmp_path)}
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "All code locations passed validation" in result.stderr + result.stdout


def test_console_script_lists_its_commands() -> None:
    result = subprocess.run(
        [str(BIN / "poeconomy"), "--help"], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for command in ("demo", "simulate", "report", "serve-api"):
        assert command in result.stdout
