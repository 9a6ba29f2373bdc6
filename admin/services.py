"""The application services the admin screens call, built once per process by
:func:`admin.app.build_admin` (the admin adapter never touches storage itself).

``extra`` is where later screens put their own services (the operational screens of
``admin-ops``: transactions, deposits, ...) without changing this class; ``app`` is the
built :class:`vending.services.wiring.Application` (its ``services`` are every channel's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vending.services.approvals import FourEyes
from vending.services.catalogue_admin import CatalogueAdmin
from vending.services.network_admin import NetworkAdmin
from vending.services.staff import StaffAccess


@dataclass
class AdminServices:
    access: StaffAccess
    four_eyes: FourEyes
    network: NetworkAdmin
    catalogue: CatalogueAdmin
    app: Any
    clock: Any
    extra: dict[str, Any] = field(default_factory=dict)
