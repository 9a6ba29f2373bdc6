"""The sale batch's start function (``evd_sale_batch_start``, migrations 0020-0024) called
with only the arrays a test gives; the rest empty (no keys claimed, no principals checked)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

_START = (
    "SELECT evd_sale_batch_start("
    " '{}'::text[], '{}'::text[], '{}'::text[], '{}'::text[], '{}'::bytea[],"
    " '{}'::timestamptz[], %(meters)s::text[], '{}'::bigint[], '{}'::bigint[],"
    " '{}'::bigint[], 0, '{}'::text[], '{}'::integer[], %(products)s::bigint[],"
    " %(days)s::date[], %(wanted)s::integer[])"
)


def start_batch(
    conn: Any,
    *,
    meters: Sequence[str] = (),
    products: Sequence[int] = (),
    days: Sequence[date] = (),
    wanted: Sequence[int] = (),
) -> Any:
    """The start's JSON document, read on ``conn`` (a SQLAlchemy connection): the meters
    locked and read; each voucher product's PINs for ``days`` and ``wanted`` locked."""
    params = {
        "meters": list(meters),
        "products": list(products),
        "days": list(days),
        "wanted": list(wanted),
    }
    return conn.exec_driver_sql(_START, params).scalar_one()
