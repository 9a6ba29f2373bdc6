"""The utility side's other operations: free basic electricity, free issue, meter credit
transfer, token verification, meter key update and STS engineering tokens (meter-specific
management tokens, and class 1 test/display tokens)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation

from utilities.interface import CreditTransfer, EngineeringRequest
from vending.errors import InvalidRequest
from vending.services.meters import CreditTransferRequest, EngineeringTokenRequest, MeterRequest
from xmlvend.codec import types_base as b
from xmlvend.codec import types_meter as m
from xmlvend.codec import types_revenue as r
from xmlvend.server.convert import meter_query
from xmlvend.server.errors import UseCaseNotSupported
from xmlvend.server.handlers.base import Call, Reply, Services
from xmlvend.server.renderer import TEST_TOKEN_KINDS


async def fbe(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.FBEReq)
    meter = meter_query(request.id_method.meter_identifier)
    outcome = await services.app.meters.fbe(MeterRequest(call.context(), meter), services.renderer)
    return Reply.of(outcome)


async def free_issue(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.FreeIssueReq)
    meter = meter_query(request.id_method.meter_identifier)
    outcome = await services.app.meters.free_issue(
        MeterRequest(call.context(), meter), services.renderer
    )
    return Reply.of(outcome)


async def meter_credit_transfer(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.MeterCreditTransferReq)
    units = request.chg_out_units.units
    if units.si_unit.strip().lower() != "kwh":
        raise UseCaseNotSupported(f"units in {units.si_unit!r}: transfer kWh")
    transfer = CreditTransfer(
        meter=meter_query(request.id_method.meter_identifier),
        units=units.value,
        old_msno=request.credit_transfer_detail.old_msno,
        ref_no=request.credit_transfer_detail.ref_no,
    )
    outcome = await services.app.meters.credit_transfer(
        CreditTransferRequest(call.context(), transfer), services.renderer
    )
    return Reply.of(outcome)


async def verify(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, r.VerifyReq)
    if not isinstance(request.token, b.STS1Token):
        raise UseCaseNotSupported("only STS1Token tokens can be verified")
    meter = meter_query(request.id_method.meter_identifier)
    result = await services.app.meters.verify_token(call.who, meter, request.token.sts_cipher)
    balance = await services.app.accounts.available(call.who)
    return Reply(services.renderer.verify(call.rendering(), result, balance))


async def update_meter_key(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, m.UpdateMeterKeyReq)
    meter = meter_query(request.id_method)
    balance = await services.app.accounts.available(call.who)
    outcome = await services.app.meters.update_key(
        MeterRequest(call.context(balance), meter), services.renderer
    )
    return Reply.of(outcome)


async def meter_specific_engineering(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, m.MeterSpecificEngReq)
    engineering = engineering_request(request)
    balance = await services.app.accounts.available(call.who)
    outcome = await services.app.meters.engineering(
        EngineeringTokenRequest(call.context(balance), engineering), services.renderer
    )
    return Reply.of(outcome)


async def non_meter_specific_engineering(services: Services, call: Call) -> Reply:
    request = call.request
    assert isinstance(request, m.NonMeterSpecificEngReq)
    kind = TEST_TOKEN_KINDS.get(type(request))
    if kind is None:
        raise UseCaseNotSupported(f"{type(request).__name__} is not supported")
    token = await services.app.meters.test_token(
        call.who, kind, request.meter_type.at, request.meter_type.tt
    )
    return Reply(services.renderer.test_token(request, token))


# --- request mapping -------------------------------------------------------------------------


def engineering_request(request: m.MeterSpecificEngReq) -> EngineeringRequest:
    """The utility side's EngineeringRequest of an ``m:meterSpecificEngReq`` xsi:type."""
    meter = meter_query(request.id_method.meter_identifier)
    if isinstance(request, m.PwrLmtReq | m.PhUnbalReq):
        kind = "power_limit" if isinstance(request, m.PwrLmtReq) else "phase_unbalance"
        return EngineeringRequest(kind=kind, meter=meter, value=_watts(request.pwr_lmt))
    if isinstance(request, m.ClearCreditReq):
        return EngineeringRequest(kind="clear_credit", meter=meter)
    if isinstance(request, m.ClearTamperReq):
        return EngineeringRequest(kind="clear_tamper", meter=meter)
    if isinstance(request, m.DefCreditReq):
        return EngineeringRequest(kind="default_credit", meter=meter)
    if isinstance(request, m.SetWaterFactorReq):
        return EngineeringRequest(
            kind="water_factor", meter=meter, value=_integer(request.water_factor, "waterFactor")
        )
    if isinstance(request, m.EngKCTReq):
        data = request.kct_data
        field_key = dataclasses.replace(
            meter,
            sgc=data.from_sgc.strip(),
            krn=_integer(data.from_krn, "fromKRN"),
            ti=data.from_ti.strip(),
        )
        return EngineeringRequest(
            kind="key_change",
            meter=field_key,
            to_sgc=data.to_sgc.strip() or None,
            to_krn=_integer(data.to_krn, "toKRN"),
            to_ti=data.to_ti.strip() or None,
        )
    raise UseCaseNotSupported(f"{type(request).__name__} is not supported")


def _watts(limit: b.PwrLmt) -> int:
    """A PwrLmt (kW by the schema; W accepted) in watts."""
    try:
        value = Decimal(limit.value.strip())
    except InvalidOperation:
        raise InvalidRequest(f"power limit {limit.value!r} is not a number") from None
    unit = limit.si_unit.strip().lower()
    if unit == "kw":
        value *= 1000
    elif unit != "w":
        raise InvalidRequest(f"power limit unit {limit.si_unit!r}: use kW")
    if value < 0:
        raise InvalidRequest("a power limit cannot be negative")
    return int(value)


def _integer(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidRequest(f"{what} {text!r} is not a whole number") from None
