"""A sale reversed by staff (issue 15 §3): the same rules as a reversal advice
(:class:`~vending.services.reversal_policy.ReversalPolicy`: a delivered PIN -- confirmed or
reprinted -- is never refunded; the product's own reversal policy; a time window) and the
same effects: the vendor refunded by one balanced transfer, a voucher's PIN quarantined,
the stored answer withdrawn so no replay serves the PIN or token again. Four-eyes: the
service asks for it and runs :func:`reverse` only once a second user approved; both names
are in the audit record written in the same transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from vending import audit
from vending.errors import ReversalRefused, UnknownSale
from vending.keyring import Keyring
from vending.oversight.scope import Resolved
from vending.oversight.transactions import scoped_sale
from vending.products import get_product
from vending.sales import Sale, reverse_sale
from vending.services import idempotency
from vending.services.rendering import Renderers
from vending.services.reversal_policy import ReversalPolicy
from vending.storage.database import Txn
from vending.vouchers.selling import reverse_voucher_sale
from vending.vouchers.tables import vouchers


def refusal(txn: Txn, scope: Resolved, sale_id: int, policy: ReversalPolicy, now: datetime) -> str:
    """Why the sale may not be reversed now ("" when it may); UnknownSale outside scope."""
    sale = scoped_sale(txn, scope, sale_id)
    if sale is None:
        raise UnknownSale(f"no sale {sale_id}")
    return _refusal(txn, sale, policy, now)


def _refusal(txn: Txn, sale: Sale, policy: ReversalPolicy, now: datetime) -> str:
    if sale.state != "completed":
        return f"Sale {sale.receipt_no} is {sale.state}; only a completed sale is reversed"
    product = get_product(txn, sale.product_code)
    if product.reversal_policy == "none":
        return f"{sale.product_code} sales cannot be reversed once delivered"
    if product.reversal_policy == "refund_unconfirmed" and sale.confirmed_at is not None:
        return f"Sale {sale.receipt_no} was confirmed and cannot be reversed"
    return policy.refusal(sale, reprints=sale.reprint_count, now=now) or ""


def reverse(
    txn: Txn,
    keyring: Keyring,
    renderers: Renderers,
    policy: ReversalPolicy,
    scope: Resolved,
    sale_id: int,
    *,
    reason: str,
    requested_by: str,
    approved_by: str,
    now: datetime,
) -> Sale:
    """Reverse the sale (in ``scope``) now; ReversalRefused with the reason when the rules
    say no, and nothing moves."""
    sale = scoped_sale(txn, scope, sale_id)
    if sale is None:
        raise UnknownSale(f"no sale {sale_id}")
    why = _refusal(txn, sale, policy, now)
    if why:
        raise ReversalRefused(why)
    actor = f"staff:{approved_by}"
    text = f"staff reversal: {reason}"[:200]
    has_voucher = (
        txn.execute(select(vouchers.c.id).where(vouchers.c.sale_id == sale.id)).first() is not None
    )
    if has_voucher:
        reversed_sale = reverse_voucher_sale(txn, sale.id, reason=text, created_by=actor, now=now)
    else:
        reversed_sale = reverse_sale(txn, sale.id, reason=text, created_by=actor, now=now)
    _withdraw(txn, keyring, renderers, sale, now)
    audit.record(
        txn,
        actor=approved_by,
        action="sale.reverse",
        subject=f"sale:{sale.id}",
        details={
            "receipt": sale.receipt_no,
            "amount": sale.amount.amount,
            "currency": sale.amount.currency,
            "reason": reason[:200],
            "requested_by": requested_by,
            "approved_by": approved_by,
            "before": sale.state,
            "after": reversed_sale.state,
        },
        now=now,
    )
    return reversed_sale


def _withdraw(txn: Txn, keyring: Keyring, renderers: Renderers, sale: Sale, now: datetime) -> None:
    """Replace the stored answer by the channel's one without PIN or token (as an advice
    does); with no renderer for its channel the reversal is refused (rolled back) rather
    than leave a void PIN to be replayed."""
    record = idempotency.lookup_by_pk(txn, keyring, sale.request_pk)
    if record is None or record.response is None:
        return
    renderer = renderers.get(record.channel)
    if renderer is None:
        raise ReversalRefused(f"no renderer for channel {record.channel!r} is registered")
    what = "PIN" if sale.product_kind == "voucher" else "token"
    withdrawn = renderer.withdrawn(
        record.response, f"Sale {sale.receipt_no} was reversed and refunded; its {what} is void"
    )
    idempotency.withdraw_answer(txn, keyring, sale.request_pk, withdrawn, now=now)


__all__ = ["refusal", "reverse"]
