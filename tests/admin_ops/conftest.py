"""The admin suite's operational screens in a real browser against a real ``evd serve``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "xmlvend" / "server"))

from browser_support import browser, desktop_page  # noqa: F401
