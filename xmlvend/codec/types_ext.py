"""Our extension namespace ``urn:evd:xmlvend:ext:1.0`` (prefix ``ext``), pinned in
docs/EXTENSION-NAMESPACE.md: voucher (denominated PIN) sales through the standard
``creditVendReq`` / ``trialCreditVendReq``, PIN-less recharges, the consumer's phone that
gets the PIN or token by SMS (``notifyMsisdn`` on the resource), and fault classes of ours.

Nothing of ours goes into the standard namespaces; these types only ever appear as the
``xsi:type`` of standard abstract elements (``b:resource``, ``b:meterIdentifier``, ``r:tx``,
``b:fault``).
"""

from __future__ import annotations

from xmlvend.codec.binding import attribute, element, xml_type
from xmlvend.codec.namespaces import EXT
from xmlvend.codec.types_base import (
    BusinessRuleEx,
    KCToken,
    MeterIdentifier,
    Resource,
    STS1Token,
    SystemEx,
)
from xmlvend.codec.types_base import (
    Electricity as BaseElectricity,
)
from xmlvend.codec.types_revenue import Tx


@xml_type(EXT, "Voucher")
class Voucher(Resource):
    """``b:resource xsi:type="ext:Voucher"``: the request buys a voucher, not electricity."""

    product_code: str | None = attribute("productCode", optional=True)
    network: str | None = attribute("network", optional=True)
    # The consumer's phone that also gets the PIN by SMS (not a recharge target).
    notify_msisdn: str | None = attribute("notifyMsisdn", optional=True)


@xml_type(EXT, "Electricity")
class Electricity(BaseElectricity):
    """``b:resource xsi:type="ext:Electricity"``: electricity, as ``b:Electricity``, whose
    token also goes to the consumer's phone by SMS."""

    notify_msisdn: str | None = attribute("notifyMsisdn", optional=True)


@xml_type(EXT, "ProductIdentifier")
class ProductIdentifier(MeterIdentifier):
    """``b:meterIdentifier xsi:type="ext:ProductIdentifier"``: the product (and, for PIN-less
    top-ups, the recipient MSISDN or account) instead of a meter."""

    product_code: str = attribute("productCode")
    recipient: str | None = attribute("recipient", optional=True)


@xml_type(EXT, "VoucherDetail")
class VoucherDetail:
    desc: str = element(EXT, "desc")
    instructions: str | None = element(EXT, "instructions", optional=True)
    product_code: str = attribute("productCode")
    serial_no: str = attribute("serialNo")
    pin: str = attribute("pin")
    expiry: str | None = attribute("expiry", optional=True)  # xs:date, raw string
    batch_no: str | None = attribute("batchNo", optional=True)
    network: str | None = attribute("network", optional=True)


@xml_type(EXT, "VoucherVendTx")
class VoucherVendTx(Tx):
    """``r:tx xsi:type="ext:VoucherVendTx"``: r:amt, r:tax* (inherited), then ext:voucher."""

    voucher: VoucherDetail = element(EXT, "voucher", VoucherDetail)


@xml_type(EXT, "RechargeDetail")
class RechargeDetail:
    desc: str = element(EXT, "desc")
    product_code: str = attribute("productCode")
    recipient: str = attribute("recipient")
    order_id: str = attribute("orderId")
    operator_ref: str | None = attribute("operatorRef", optional=True)
    provider_ref: str | None = attribute("providerRef", optional=True)
    circle: str | None = attribute("circle", optional=True)


@xml_type(EXT, "RechargeTx")
class RechargeTx(Tx):
    """``r:tx xsi:type="ext:RechargeTx"``: r:amt, r:tax* (inherited), then ext:recharge (a
    PIN-less recharge delivered through a provider)."""

    recharge: RechargeDetail = element(EXT, "recharge", RechargeDetail)


@xml_type(EXT, "MISTY1KCToken")
class MISTY1KCToken(KCToken):
    """``b:token xsi:type="ext:MISTY1KCToken"``: a 4-token key change (128-bit MISTY1 keys);
    the standard b:KCToken has room for two, so the third and fourth follow here."""

    set3rd_meter_key: STS1Token = element(EXT, "set3rdMeterKey", STS1Token)
    set4th_meter_key: STS1Token = element(EXT, "set4thMeterKey", STS1Token)


@xml_type(EXT, "DuplicateMsgIDEx")
class DuplicateMsgIDEx(BusinessRuleEx):
    """Same (clientID, msgID) as an earlier request, but a different request."""


@xml_type(EXT, "TransactionDelayedEx")
class TransactionDelayedEx(SystemEx):
    """The transaction is still in progress (e.g. upstream timeout); ask again later with a
    last-response advice."""
