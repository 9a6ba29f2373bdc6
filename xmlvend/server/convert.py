"""Values between the wire (codec dataclasses) and the domain (Money, MeterQuery, MeterInfo).

Inbound: currency symbols go through ``currency.aliases`` to ISO 4217 codes and amounts
become :class:`~vending.money.Money` exactly (excess decimals are refused, never rounded).
Outbound: everything we write must be strictly schema-valid, so free text from the
database (customer names, addresses, references) is fitted to its XSD facet here, and an
optional value that cannot be made to fit is left out rather than sent invalid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from utilities.interface import Customer, MeterInfo, MeterQuery, UtilityInfo
from vending.auth import Principal
from vending.config import CurrencyConfig
from vending.money import Money
from xmlvend.codec import types_base as b
from xmlvend.codec.types_base import DeviceID, EANDeviceID, GenericDeviceID, MsgID
from xmlvend.server.errors import UseCaseNotSupported

_MSG = 160  # b:Msg
_NAME = 80  # b:OrganisationName, b:Address
_NO_SPACE_20 = re.compile(r"\S{1,20}")
_CONTACT = re.compile(r"\S{7,12}")
_TAX_REF = re.compile(r"\d{10}")
_DIGIT = re.compile(r"\d")
_ONE_DECIMAL = Decimal("0.1")
# NRS009-4 meter card track 2: PAN (IIN 600727 + 11-digit meter number + Luhn digit) '='...
_TRACK2_METER = re.compile(r"600727(\d{11})\d=")


# --- identity ------------------------------------------------------------------------------


def device_value(device: DeviceID) -> str:
    """The identifier a DeviceID carries (EAN or generic id), as vendors are registered."""
    if isinstance(device, EANDeviceID):
        return device.ean
    if isinstance(device, GenericDeviceID):
        return device.id
    raise TypeError(f"not a device id: {device!r}")


def request_id(msg_id: MsgID) -> str:
    """The idempotency key part of a msgID: the raw wire strings, ``dateTime/uniqueNumber``."""
    return f"{msg_id.date_time}/{msg_id.unique_number}"


def msg_id_text(msg_id: MsgID | None) -> str | None:
    return None if msg_id is None else request_id(msg_id)


# --- money -----------------------------------------------------------------------------------


class Currencies:
    """Currency symbols and amounts, as configured (``[currency]``)."""

    def __init__(self, config: CurrencyConfig) -> None:
        self.default = config.default
        aliases: Mapping[str, str] = config.aliases
        self._aliases = {**{k.upper(): v for k, v in aliases.items()}, **aliases}

    def iso_code(self, symbol: str | None) -> str:
        """The ISO 4217 code a client's symbol stands for (``R`` -> ``ZAR``)."""
        if symbol is None or not symbol.strip():
            return self.default
        symbol = symbol.strip()
        return self._aliases.get(symbol) or self._aliases.get(symbol.upper()) or symbol.upper()

    def money(self, amount: b.Currency) -> Money:
        """Exact Money; raises InvalidAmount (too many decimals, not finite) or
        UnknownCurrency."""
        return Money.parse(amount.value, self.iso_code(amount.symbol))


def currency(money: Money) -> b.Currency:
    """``value`` with exactly the currency's decimals and the ISO code as ``symbol``."""
    return b.Currency(value=money.to_decimal(), symbol=money.currency)


# --- meters ------------------------------------------------------------------------------------


def meter_query(identifier: b.MeterIdentifier) -> MeterQuery:
    """How the request names the meter (MeterNumber, MeterDetail, ExtMeterDetail, MeterCard)."""
    if isinstance(identifier, b.MeterDetail):
        track2 = identifier.track2_data if isinstance(identifier, b.ExtMeterDetail) else None
        return MeterQuery(
            msno=identifier.msno.strip(),
            sgc=identifier.sgc.strip(),
            krn=_int(identifier.krn, "krn"),
            ti=identifier.ti.strip(),
            at=identifier.meter_type.at.strip(),
            tt=identifier.meter_type.tt.strip(),
            track2=track2,
        )
    if isinstance(identifier, b.MeterNumber):
        return MeterQuery(msno=identifier.msno.strip())
    if isinstance(identifier, b.MeterCard):
        found = _TRACK2_METER.match(identifier.track2_data.strip())
        if found is None:
            raise UseCaseNotSupported("the meter card's track 2 data does not carry an STS PAN")
        return MeterQuery(msno=found.group(1), track2=identifier.track2_data.strip())
    raise UseCaseNotSupported(
        f"meters identified by {type(identifier).__name__} are not supported; "
        "send a MeterNumber or MeterDetail"
    )


def meter_query_of(id_method: b.IDMethod) -> MeterQuery:
    """The meter of an idMethod; customer identification is not offered (by meter only)."""
    if isinstance(id_method, b.VendIDMethod):
        return meter_query(id_method.meter_identifier)
    raise UseCaseNotSupported(
        "customers are identified by their meter on this server: send a VendIDMethod"
    )


def _int(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise UseCaseNotSupported(f"{what} {text!r} is not a number") from None


def meter_detail(info: MeterInfo) -> b.MeterDetail:
    return b.MeterDetail(
        meter_type=b.MeterType(at=info.at, tt=info.tt),
        msno=info.msno,
        sgc=info.sgc,
        krn=str(info.krn),
        ti=info.ti,
    )


# --- parties -------------------------------------------------------------------------------------


def utility_detail(utility: UtilityInfo) -> b.UtilityDetail:
    tax_ref = utility.tax_ref if _TAX_REF.fullmatch(utility.tax_ref or "") else "0000000000"
    return b.UtilityDetail(
        name=fit(utility.name, _NAME) or "Utility",
        address=fit(utility.address, _NAME),
        tax_ref=tax_ref,
    )


def vendor_detail(principal: Principal) -> b.VendorDetail:
    return b.VendorDetail(
        name=fit(principal.vendor_name, _NAME) or principal.client_id[:_NAME],
        address=fit(principal.vendor_address, _NAME),
    )


def cust_vend_detail(customer: Customer | None) -> b.CustVendDetail | None:
    if customer is None:
        return None
    return b.CustVendDetail(
        name=person_name(customer.name),
        address=fit(customer.address, _NAME),
        contact_no=_matching(customer.contact_no, _CONTACT),
        acc_no=_matching(customer.account_no, _NO_SPACE_20),
        loc_ref=_matching(customer.loc_ref, _NO_SPACE_20),
        days_last_purchase=customer.days_since_last_purchase,
    )


# --- text facets ---------------------------------------------------------------------------------


def fit(text: str | None, limit: int = _MSG) -> str:
    """Free text cut to ``limit`` characters (b:Msg is 160, names and addresses 80)."""
    return (text or "").strip()[:limit]


def msg(text: str | None) -> str | None:
    """An optional b:Msg: None for empty text."""
    value = fit(text)
    return value or None


def person_name(name: str | None) -> str:
    """b:PersonName is ``(\\D){1,40}``: digits are dropped, never the whole name."""
    cleaned = " ".join(_DIGIT.sub("", name or "").split())[:40].strip()
    return cleaned or "Customer"


def _matching(value: str | None, pattern: re.Pattern[str]) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value if pattern.fullmatch(value) else None


def token_text(token: str) -> str:
    """An STS token as the schema wants it: the digits only (no grouping spaces)."""
    if token.isdigit():  # the usual token: nothing to drop
        return token
    return "".join(filter(str.isdigit, token))


def units_value(units: Decimal) -> Decimal:
    """Units with at least one decimal (``12.3`` kWh), never exponent notation."""
    return units.quantize(_ONE_DECIMAL) if units == units.to_integral() else units
