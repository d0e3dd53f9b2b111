"""Each core sub-package has a public face (issue 23): code outside ``core/<package>/`` imports what it uses from
``poeconomy_assets.core.<package>`` (its ``__init__`` re-exports it in ``__all__``), never from one of its modules.
Inside a sub-package, modules import each other by their full module path. Tests may import the internals they
test; benchmarks follow the rule except for the private helpers they time (``_``-prefixed, never exported)."""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "poeconomy_assets"
SUBPACKAGES = sorted(p.name for p in (PACKAGE / "core").iterdir() if (p / "__init__.py").exists())


def exported(init: Path) -> set[str]:
    """The names in an ``__init__.py``'s ``__all__`` (a face may export a function named like its module:
    ``core.models.optuna_storage``)."""
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def deep_imports(root: Path, package: Path = PACKAGE) -> list[str]:
    """``file:line imports module`` for every import, outside a core sub-package, of one of its modules
    (``from poeconomy_assets.core.<package>.<module> import name`` or ``import ...<package>.<module>``) or of a
    module as a name of the package (``from poeconomy_assets.core.<package> import <module>``). Imports of
    ``_``-prefixed names only are skipped: private helpers are not part of a face."""
    wrong = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [(node.module, [alias.name for alias in node.names])]
            elif isinstance(node, ast.Import):
                modules = [(alias.name, []) for alias in node.names]
            else:
                continue
            for module, names in modules:
                parts = module.split(".")
                if parts[:2] != ["poeconomy_assets", "core"] or len(parts) < 3:
                    continue
                sub = parts[2]
                if (package / "core" / sub).is_dir() and (package / "core" / sub) in path.parents:
                    continue
                if len(parts) == 3 and (package / "core" / sub).is_dir():
                    face = exported(package / "core" / sub / "__init__.py")
                    submodules = [
                        n for n in names if (package / "core" / sub / f"{n}.py").exists() and n not in face
                    ]
                    if submodules:
                        wrong.append(
                            f"{path.relative_to(root)}:{node.lineno} imports the module {submodules}"
                        )
                elif len(parts) >= 4 and (package / "core" / sub).is_dir():
                    if names and all(name.startswith("_") for name in names):
                        continue
                    wrong.append(f"{path.relative_to(root)}:{node.lineno} imports {module}")
    return wrong


def test_product_code_imports_core_subpackages_by_their_face() -> None:
    assert deep_imports(PACKAGE) == []


def test_benchmarks_import_core_subpackages_by_their_face() -> None:
    """bench_training sets ``families.THREADS``: a module's global, so it keeps the module."""
    assert deep_imports(ROOT / "benchmarks") == [
        "bench_training.py:29 imports the module ['families']",
    ]


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_each_face_lists_its_names_sorted_and_importable(name: str) -> None:
    package = importlib.import_module(f"poeconomy_assets.core.{name}")
    exported = package.__all__
    assert exported, f"core.{name} exports nothing"
    assert len(set(exported)) == len(exported)
    assert all(hasattr(package, n) for n in exported)


def test_the_check_finds_a_deep_import(tmp_path: Path) -> None:
    """The check itself: a defs module importing a core module directly is reported, a core module importing
    a module of its own sub-package is not."""
    (tmp_path / "core" / "report").mkdir(parents=True)
    (tmp_path / "core" / "report" / "markdown.py").write_text("")
    (tmp_path / "core" / "report" / "__init__.py").write_text('__all__ = ["frame_to_markdown"]\n')
    (tmp_path / "core" / "report" / "html.py").write_text(
        "from poeconomy_assets.core.report.markdown import frame_to_markdown\n"
    )
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "bad.py").write_text(
        "from poeconomy_assets.core.report.markdown import frame_to_markdown\n"
        "from poeconomy_assets.core.report import markdown\n"
        "from poeconomy_assets.core.report import frame_to_markdown\n"
    )
    assert deep_imports(tmp_path, tmp_path) == [
        "defs/bad.py:1 imports poeconomy_assets.core.report.markdown",
        "defs/bad.py:2 imports the module ['markdown']",
    ]
