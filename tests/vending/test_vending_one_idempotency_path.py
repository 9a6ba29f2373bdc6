"""Issue 11 §1: the idempotency rules (claim, re-check the principal, change, store) are
written once, in :mod:`vending.services.idempotency`, over the SQL primitives of
:mod:`vending.requests`. This guards against a fifth copy growing back: no other module of
the product calls the primitives that claim keys or store answers."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRIMITIVES = re.compile(r"\b(claim_request|store_response|replace_response|keep_pending_body)\(")
ALLOWED = {"vending/requests.py", "vending/services/idempotency.py"}


def test_only_the_idempotency_module_claims_keys_and_stores_answers() -> None:
    offenders = []
    for package in ("vending", "utilities", "xmlvend", "tools"):
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if relative in ALLOWED:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if PRIMITIVES.search(line) and not line.lstrip().startswith("def "):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []
