"""The options demo, cluster and simulate share: one definition of the simulated market and the profile."""

import pytest

from poeconomy_assets.cli import build_parser
from poeconomy_assets.commands.options import PROFILE_NAMES, simulation_config
from poeconomy_assets.core.models.ensemble import PROFILES


def test_profile_names_are_the_training_profiles() -> None:
    assert PROFILE_NAMES == tuple(PROFILES)


@pytest.mark.parametrize("command", [["demo"], ["cluster", "demo"], ["simulate", "--out", "x"]])
def test_every_command_reads_the_same_simulated_market(command: list[str]) -> None:
    args = build_parser().parse_args([*command, "--leagues", "3", "--currencies", "4", "--seed", "11"])
    config = simulation_config(args)
    assert (config.n_leagues, config.n_currencies, config.seed) == (3, 4, 11)
    defaults = simulation_config(build_parser().parse_args(command))
    assert (defaults.n_leagues, defaults.n_currencies, defaults.seed) == (6, 10, 7)


@pytest.mark.parametrize("command", [["demo"], ["cluster", "run"]])
def test_an_unknown_profile_is_refused(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser().parse_args(command).profile == "test"
    with pytest.raises(SystemExit):
        build_parser().parse_args([*command, "--profile", "prod"])
    assert "invalid choice: 'prod'" in capsys.readouterr().err
