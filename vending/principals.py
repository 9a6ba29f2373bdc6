"""A Principal read from the database: the vendor, account and operator columns every
credential lookup selects (API key, app session, SMS merchant, card checkout, a resumed bulk
batch), and the Principal made of such a row. Each lookup adds its own credential's columns
and joins; what a principal is made of is said once, here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from vending.auth import Principal
from vending.storage.schema import accounts, operators, vendors
from vending.vendors import parse_privileges

PRINCIPAL_COLUMNS = (
    vendors.c.id.label("vendor_id"),
    vendors.c.client_id,
    vendors.c.name,
    vendors.c.address,
    vendors.c.account_id,
    vendors.c.privileges,
    accounts.c.currency,
    operators.c.id.label("operator_id"),
    operators.c.name.label("operator_name"),
    operators.c.credential_version,
)


def principal_from_row(row: Row[Any]) -> Principal:
    """The principal of a row selected with PRINCIPAL_COLUMNS (the operator's columns are
    None where an outer join found none)."""
    return Principal(
        vendor_id=row.vendor_id,
        client_id=row.client_id,
        vendor_name=row.name,
        vendor_address=row.address,
        account_id=row.account_id,
        currency=row.currency,
        operator_id=row.operator_id,
        operator_name=row.operator_name,
        credential_version=row.credential_version or 0,
        privileges=parse_privileges(row.privileges),
    )
