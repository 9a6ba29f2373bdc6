"""Layer rules for the SMS, USSD and card channels (in the style of the JSON channel's, until
the project-wide import-linter contracts cover them): adapters translate and render only;
the core modules they added import no adapter and no Twisted."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = ("sms", "ussd", "cardpay")
CORE_MODULES = (
    "vending/channel_tables.py",
    "vending/sms_merchants.py",
    "vending/sms_outbox.py",
    "vending/sms_text.py",
    "vending/sms_texts.py",
    "vending/card_payments.py",
    "vending/services/sms.py",
    "vending/services/card_checkout.py",
    "vending/services/channel_products.py",
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


def test_channel_adapters_have_no_sql_and_no_other_adapter() -> None:
    for package in ADAPTERS:
        paths = sorted((ROOT / package).rglob("*.py"))
        assert paths, package
        others = tuple(a for a in (*ADAPTERS, "xmlvend", "jsonapi") if a != package)
        # USSD shares the SMS channel's renderer and merchants (one channel family).
        if package == "ussd":
            others = tuple(a for a in others if a != "sms")
        forbidden = ("sqlalchemy", "vending.storage", "tools", *others)
        assert _violations(paths, forbidden) == []


def test_the_channels_core_imports_no_adapter_and_no_twisted() -> None:
    paths = [ROOT / name for name in CORE_MODULES]
    forbidden = ("twisted", "zope", "sms", "ussd", "cardpay", "jsonapi", "xmlvend", "tools")
    assert _violations(paths, forbidden) == []


def test_the_simulator_is_a_tool_the_server_never_imports() -> None:
    paths = [p for package in ADAPTERS for p in (ROOT / package).rglob("*.py")]
    assert not [p for p in paths if "switch_simulator" in " ".join(_imports(p))]
