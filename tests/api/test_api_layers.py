"""Layer rules for the JSON channel's code (until the project-wide import-linter contracts
cover ``jsonapi``): the adapter translates and renders only; the core stays adapter-free."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE_MODULES = (
    "vending/api_keys.py",
    "vending/api_tables.py",
    "vending/api_demo.py",
    "vending/consumers.py",
    "vending/history.py",
    "vending/webhooks.py",
    "vending/services/api_access.py",
    "vending/services/account_views.py",
    "vending/services/sale_queries.py",
    "vending/services/wallets.py",
    "vending/services/webhooks.py",
)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _violations(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in paths
        for name in sorted(_imports(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_the_json_adapter_has_no_sql_and_no_other_adapter() -> None:
    paths = sorted((ROOT / "jsonapi").rglob("*.py"))
    assert paths
    assert _violations(paths, ("sqlalchemy", "vending.storage", "xmlvend", "tools")) == []


def test_the_core_of_the_api_channels_imports_no_adapter_and_no_twisted() -> None:
    paths = [ROOT / name for name in CORE_MODULES]
    forbidden = ("twisted", "jsonapi", "xmlvend", "tools", "zope")
    assert _violations(paths, forbidden) == []
