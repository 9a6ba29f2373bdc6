"""Our extension namespace ``urn:evd:xmlvend:ext:1.0`` (prefix ``ext``), pinned in
docs/EXTENSION-NAMESPACE.md: voucher (denominated PIN) sales through the standard
``creditVendReq`` / ``trialCreditVendReq``, PIN-less recharges, the consumer's phone that
gets the PIN or token by SMS (``notifyMsisdn`` on the resource), bill payment, money
transfer and insurance (issue 14 section 7), and fault classes of ours.

Nothing of ours goes into the standard namespaces; these types appear as the ``xsi:type``
of standard abstract elements (``b:resource``, ``b:meterIdentifier``, ``r:tx``,
``b:fault``), or as our own read-only requests (``ext:billFetchReq``,
``ext:insuranceQuoteReq``) built on ``b:BaseReq`` / ``b:BaseResp``.
"""

from __future__ import annotations

from xmlvend.codec.binding import attribute, element, xml_type
from xmlvend.codec.namespaces import EXT
from xmlvend.codec.types_base import (
    BaseReq,
    BaseResp,
    BusinessRuleEx,
    Currency,
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


# --- bill payment (BBPS-like) ----------------------------------------------------------------


@xml_type(EXT, "BillParam")
class BillParam:
    """One of the biller's customer parameters, by its registry name."""

    name: str = attribute("name")
    value: str = attribute("value")


@xml_type(EXT, "BillIdentifier")
class BillIdentifier(MeterIdentifier):
    """``b:meterIdentifier xsi:type="ext:BillIdentifier"``: a biller's customer (its
    parameters in the biller's order), the payer's mobile and, to pay a fetched bill, the
    fetch's ``refId``."""

    params: tuple[BillParam, ...] = element(EXT, "param", BillParam, many=True, max_occurs=8)
    biller_id: str = attribute("billerId")
    ref_id: str | None = attribute("refId", optional=True)
    mobile: str = attribute("mobile")


@xml_type(EXT, "BillFetchReq")
class BillFetchReq(BaseReq):
    """``ext:billFetchReq``: fetch the customer's bill (read-only)."""

    bill_identifier: BillIdentifier = element(EXT, "billIdentifier", BillIdentifier)


@xml_type(EXT, "BillFetchResp")
class BillFetchResp(BaseResp):
    """``ext:billFetchResp``: the amount due and the ``refId`` its payment quotes."""

    amt: Currency = element(EXT, "amt", Currency)
    biller_id: str = attribute("billerId")
    ref_id: str = attribute("refId")
    customer_name: str = attribute("customerName")
    bill_number: str | None = attribute("billNumber", optional=True)
    bill_date: str | None = attribute("billDate", optional=True)  # xs:date, raw string
    due_date: str | None = attribute("dueDate", optional=True)  # xs:date, raw string


@xml_type(EXT, "BillDetail")
class BillDetail:
    desc: str = element(EXT, "desc")
    biller_id: str = attribute("billerId")
    order_id: str = attribute("orderId")
    ref_id: str | None = attribute("refId", optional=True)
    approval_ref: str | None = attribute("approvalRef", optional=True)
    customer_name: str | None = attribute("customerName", optional=True)
    bill_number: str | None = attribute("billNumber", optional=True)


@xml_type(EXT, "BillPaymentTx")
class BillPaymentTx(Tx):
    """``r:tx xsi:type="ext:BillPaymentTx"``: r:amt, r:tax*, then ext:bill."""

    bill: BillDetail = element(EXT, "bill", BillDetail)


# --- money transfer ---------------------------------------------------------------------------


@xml_type(EXT, "BeneficiaryIdentifier")
class BeneficiaryIdentifier(MeterIdentifier):
    """``b:meterIdentifier xsi:type="ext:BeneficiaryIdentifier"``: the registered sender's
    validated beneficiary the purchase value is sent to."""

    sender: str = attribute("sender")
    beneficiary_id: int = attribute("beneficiaryId", int)


@xml_type(EXT, "TransferDetail")
class TransferDetail:
    desc: str = element(EXT, "desc")
    sent: Currency = element(EXT, "sent", Currency)
    fee: Currency = element(EXT, "fee", Currency)
    order_id: str = attribute("orderId")
    utr: str | None = attribute("utr", optional=True)
    beneficiary_name: str | None = attribute("beneficiaryName", optional=True)


@xml_type(EXT, "TransferTx")
class TransferTx(Tx):
    """``r:tx xsi:type="ext:TransferTx"``: r:amt (sent + fee), r:tax*, then ext:transfer."""

    transfer: TransferDetail = element(EXT, "transfer", TransferDetail)


# --- insurance ------------------------------------------------------------------------------


@xml_type(EXT, "InsuranceQuoteReq")
class InsuranceQuoteReq(BaseReq):
    """``ext:insuranceQuoteReq``: the insurer's premium for a plan (read-only)."""

    sum_insured: Currency = element(EXT, "sumInsured", Currency)
    plan: str = attribute("plan")
    dob: str = attribute("dob")  # xs:date, raw string
    term_years: int = attribute("termYears", int)


@xml_type(EXT, "InsuranceQuoteResp")
class InsuranceQuoteResp(BaseResp):
    premium: Currency = element(EXT, "premium", Currency)
    sum_insured: Currency = element(EXT, "sumInsured", Currency)
    quote_id: str = attribute("quoteId")
    plan: str = attribute("plan")
    valid_minutes: int = attribute("validMinutes", int)


@xml_type(EXT, "PolicyIdentifier")
class PolicyIdentifier(MeterIdentifier):
    """``b:meterIdentifier xsi:type="ext:PolicyIdentifier"``: the policy to issue (plan,
    the insurer's quote, the holder)."""

    plan: str = attribute("plan")
    quote_id: str = attribute("quoteId")
    holder: str = attribute("holder")
    dob: str = attribute("dob")  # xs:date, raw string
    mobile: str = attribute("mobile")


@xml_type(EXT, "PolicyDetail")
class PolicyDetail:
    desc: str = element(EXT, "desc")
    plan: str = attribute("plan")
    order_id: str = attribute("orderId")
    policy_no: str | None = attribute("policyNo", optional=True)
    document_ref: str | None = attribute("documentRef", optional=True)
    holder: str | None = attribute("holder", optional=True)


@xml_type(EXT, "PolicyTx")
class PolicyTx(Tx):
    """``r:tx xsi:type="ext:PolicyTx"``: r:amt (the premium), r:tax*, then ext:policy."""

    policy: PolicyDetail = element(EXT, "policy", PolicyDetail)


# --- bus travel -----------------------------------------------------------------------------


@xml_type(EXT, "TripSearchReq")
class TripSearchReq(BaseReq):
    """``ext:tripSearchReq``: the partner's trips between two places on a day (read-only)."""

    origin: str = attribute("from")
    destination: str = attribute("to")
    date: str = attribute("date")  # xs:date, raw string


@xml_type(EXT, "Trip")
class Trip:
    fare: Currency = element(EXT, "fare", Currency)
    trip_id: str = attribute("tripId")
    operator: str = attribute("operator")
    bus_type: str = attribute("busType")
    departs: str = attribute("departs")  # xs:dateTime, raw string
    arrives: str = attribute("arrives")  # xs:dateTime, raw string
    seats: str = attribute("seats")  # the free seats, separated by spaces


@xml_type(EXT, "TripSearchResp")
class TripSearchResp(BaseResp):
    trips: tuple[Trip, ...] = element(EXT, "trip", Trip, many=True)


@xml_type(EXT, "Passenger")
class Passenger:
    name: str = attribute("name")
    age: int = attribute("age", int)
    seat: str = attribute("seat")


@xml_type(EXT, "SeatHoldReq")
class SeatHoldReq(BaseReq):
    """``ext:seatHoldReq``: hold seats of a trip (the fare held from the vendor's credit);
    ``from``/``to``/``date`` repeat the search for the trip's details."""

    passengers: tuple[Passenger, ...] = element(
        EXT, "passenger", Passenger, many=True, min_occurs=1, max_occurs=6
    )
    trip_id: str = attribute("tripId")
    contact: str = attribute("contact")
    origin: str | None = attribute("from", optional=True)
    destination: str | None = attribute("to", optional=True)
    date: str | None = attribute("date", optional=True)  # xs:date, raw string


@xml_type(EXT, "BookingReq")
class BookingReq(BaseReq):
    """``ext:bookingReq``: ticket the seats held under ``bookingRef``."""

    booking_ref: str = attribute("bookingRef")


@xml_type(EXT, "CancellationReq")
class CancellationReq(BaseReq):
    """``ext:cancellationReq``: cancel a booked ticket by the partner's refund rules."""

    booking_ref: str = attribute("bookingRef")


@xml_type(EXT, "BookingDetail")
class BookingDetail:
    fare: Currency = element(EXT, "fare", Currency)
    refund: Currency | None = element(EXT, "refund", Currency, optional=True)
    avail_credit: Currency | None = element(EXT, "availCredit", Currency, optional=True)
    booking_ref: str = attribute("bookingRef")
    state: str = attribute("state")
    trip_id: str = attribute("tripId")
    seats: str = attribute("seats")
    expires_at: str | None = attribute("expiresAt", optional=True)  # xs:dateTime, raw
    pnr: str | None = attribute("pnr", optional=True)
    ticket_no: str | None = attribute("ticketNo", optional=True)


@xml_type(EXT, "BookingResp")
class BookingResp(BaseResp):
    """``ext:bookingResp``: the booking after a booking or a cancellation."""

    booking: BookingDetail = element(EXT, "booking", BookingDetail)


@xml_type(EXT, "SeatHoldResp")
class SeatHoldResp(BookingResp):
    """``ext:seatHoldResp``: the seats held (state ``held``, until ``expiresAt``)."""


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
