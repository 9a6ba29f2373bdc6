"""Customer fault reports, on the core's shared ``metadata`` (created by migration
``0005_fault_reports``; keep the two in step).

One row per report a customer logged through a vendor (XMLVend ``custReportFaultReq``):
what is wrong (``kind``: a meter, the network, or unspecified), the meter when the report
names one and whether our registry knows it, the customer's details as given, who
reported it (vendor, client, terminal, operator) and the request it came in
(``request_pk``: one report per request key, so a re-sent request cannot log it twice).
Staff close a report with a resolution (``evd fault close``).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    text,
)

from vending.storage.schema import metadata
from vending.storage.types import Id, UTCDateTime

# general: a plain m:CustFaultReport; meter: m:MeterFaultReport; network: m:NetworkFaultReport.
FAULT_KINDS = ("general", "meter", "network")
FAULT_STATES = ("open", "closed")

# Column sizes: the XSD facets of what the customer gives (b:PersonName 40, b:Address 80,
# b:ContactNo 12, b:AccountNo and b:LocRef 20, b:MSNO 13, b:Msg 160), so whatever is
# recorded can be echoed schema-valid.
NAME_LENGTH = 40
ADDRESS_LENGTH = 80
CONTACT_LENGTH = 12
REF_LENGTH = 20
MSNO_LENGTH = 13
DESCRIPTION_LENGTH = 160
RESOLUTION_LENGTH = 500

fault_reports = Table(
    "fault_reports",
    metadata,
    # The reference the customer quotes is derived from the id (reports.ref_no_for).
    Column("id", Id, primary_key=True),
    Column("kind", String(16), nullable=False),
    # The meter the report is about (meter reports only), as reported, and whether it is
    # one of ours: an unknown meter is still a valid report (it may be the very fault).
    Column("msno", String(MSNO_LENGTH), nullable=True),
    Column("meter_registered", Boolean, nullable=True),
    Column("customer_name", String(NAME_LENGTH), nullable=False),
    Column("customer_address", String(ADDRESS_LENGTH), nullable=False),
    Column("contact_no", String(CONTACT_LENGTH), nullable=True),
    Column("account_no", String(REF_LENGTH), nullable=True),
    Column("loc_ref", String(REF_LENGTH), nullable=True),
    Column("description", String(DESCRIPTION_LENGTH), nullable=True),
    # Who reported it.
    Column("vendor_id", Id, ForeignKey("vendors.id"), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("terminal_id", String(64), nullable=False),
    Column("operator_name", String(64), nullable=True),
    # The request it came in (its key: clientID + msgID).
    Column("request_pk", Id, ForeignKey("requests.id"), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", String(8), nullable=False, server_default=text("'open'")),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("closed_by", String(64), nullable=True),
    Column("resolution", String(RESOLUTION_LENGTH), nullable=True),
    CheckConstraint(
        "kind IN (" + ", ".join(f"'{kind}'" for kind in FAULT_KINDS) + ")", name="kind"
    ),
    CheckConstraint(
        "status IN (" + ", ".join(f"'{state}'" for state in FAULT_STATES) + ")", name="status"
    ),
    CheckConstraint(
        "(kind = 'meter') = (msno IS NOT NULL) AND (msno IS NULL) = (meter_registered IS NULL)",
        name="meter",
    ),
    CheckConstraint(
        "(status = 'open' AND closed_at IS NULL AND closed_by IS NULL AND resolution IS NULL)"
        " OR (status = 'closed' AND closed_at IS NOT NULL AND closed_by IS NOT NULL"
        " AND resolution IS NOT NULL)",
        name="closed",
    ),
    # `evd fault list --open`: the open reports, oldest first.
    Index("ix_fault_reports_status_created_at", "status", "created_at"),
    # A meter's reports.
    Index("ix_fault_reports_msno", "msno"),
)
