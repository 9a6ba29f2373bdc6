"""The admin screens. Each module here has ``register(ui: admin.web.AdminUI)`` which adds
its pages (``@ui.page(...)``) and navigation entries; :data:`SCREENS` is the order they are
registered in. To add a screen: write a module, add its name here, add its templates under
``admin/templates/`` (extending ``base.html``), and add it to the screenshot list in
``tools/admin_screenshots.py`` (docs/ADMIN.md, "Adding a screen")."""

from __future__ import annotations

from importlib import import_module
from typing import Any

SCREENS: list[str] = [
    "admin.screens.auth",
    "admin.screens.home",
    "admin.screens.approvals",
    "admin.screens.users",
    "admin.screens.audit",
    "admin.screens.hierarchy",
    "admin.screens.catalogue",
    # The operational screens (admin-ops): dashboard, transactions, queues, activity, reports.
    "admin.screens.dashboard",
    "admin.screens.transactions",
    "admin.screens.queues",
    "admin.screens.monitoring",
    "admin.screens.reports",
    "admin.screens.points",
]


def register_all(ui: Any, screens: list[str] | None = None) -> None:
    for name in screens or SCREENS:
        import_module(name).register(ui)
