"""Imports point down: no module of the package imports from a layer above its own (issue 23).

Layers, bottom to top: ``core`` (plain Python, never Dagster) and the market simulator ``sim``; ``resources``
(adapters to the outside world); ``execution`` (executors and queues); ``defs`` (the asset graph); the code location
``definitions``; what runs the graph (``cluster``, ``demo``); the CLI (``commands``, ``cli``). A module may import
its own layer and the layers below it.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "poeconomy_assets"
LAYERS = {
    "core": 0,
    "sim": 1,
    "resources": 1,
    "execution": 2,
    "defs": 3,
    "definitions": 4,
    "cluster": 5,
    "demo": 5,
    "commands": 6,
    "cli": 7,
}


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name for name in found if name.startswith("poeconomy_assets.")]


def upward_imports(package: Path = PACKAGE) -> list[str]:
    wrong = []
    for path in sorted(package.rglob("*.py")):
        part = path.relative_to(package).parts[0].removesuffix(".py")
        if part == "__init__":
            continue
        assert part in LAYERS, f"{path}: {part!r} has no layer (add it to LAYERS)"
        for name in _imports(path):
            target = name.split(".")[1]
            if LAYERS[target] > LAYERS[part]:
                wrong.append(f"{path.relative_to(package)} imports {name} ({target} is above {part})")
    return wrong


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    assert upward_imports() == []


def test_core_never_imports_dagster() -> None:
    users = [
        str(p.relative_to(PACKAGE))
        for p in (PACKAGE / "core").rglob("*.py")
        if any(
            isinstance(n, (ast.Import, ast.ImportFrom))
            and "dagster" in (getattr(n, "module", None) or " ".join(a.name for a in n.names)).split(".")[0]
            for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        )
    ]
    assert users == []


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    """The check itself: a core module importing defs is reported."""
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "bad.py").write_text("from poeconomy_assets.defs.models import price_models\n")
    assert upward_imports(tmp_path) == [
        "core/bad.py imports poeconomy_assets.defs.models (defs is above core)"
    ]
