"""confirmCustomerReq and confirmMeterReq: meter and customer details (read-only)."""

from __future__ import annotations

from xmlvend.codec import types_meter as m
from xmlvend.codec import types_revenue as r
from xmlvend.server.convert import meter_query, meter_query_of
from xmlvend.server.handlers.base import Call, Reply, Services


async def confirm_customer(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.ConfirmCustomerReq)
    info = await services.app.meters.confirm_meter(meter_query_of(request.id_method))
    return Reply(services.renderer.confirm_customer(request, info))


async def confirm_meter(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, m.ConfirmMeterReq)
    info = await services.app.meters.confirm_meter(meter_query(request.id_method.meter_identifier))
    return Reply(services.renderer.confirm_meter(request, info))
