"""reprintReq: the vendor's last ``server.reprint_count`` sales for a meter (or a voucher
product, ``ext:ProductIdentifier``), each the original response byte for byte -- original
msgID, respDateTime, receipt and token -- oldest first. ``ReprintEx`` when there are none.
Reversed sales are not reprinted; a reprint counts as a delivery of a voucher's PIN
(:mod:`vending.services.reprints`)."""

from __future__ import annotations

from vending.services.reprints import ReprintRequest
from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext
from xmlvend.codec import types_revenue as r
from xmlvend.server.convert import meter_query_of
from xmlvend.server.handlers.base import Call, Reply, Services


def reprint_target(id_method: b.IDMethod) -> str:
    """What the sales to reprint were made for: a meter number or a voucher product code."""
    if isinstance(id_method, b.VendIDMethod) and isinstance(
        id_method.meter_identifier, ext.ProductIdentifier
    ):
        return id_method.meter_identifier.product_code.strip()
    return meter_query_of(id_method).msno


async def reprint(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.ReprintReq)
    target = reprint_target(request.id_method)
    originals = await services.app.reprints.originals(
        ReprintRequest(call.context(), target, services.app.settings.reprint_count)
    )
    return Reply(services.renderer.reprint(request, originals))
