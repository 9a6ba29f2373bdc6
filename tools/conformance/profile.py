"""What the kit needs to know about the server under test: where it is, who we are, and
which meter numbers provoke which outcome.

The defaults are our own demo data (``make run``: vending/demo.py, utilities/demo.py,
docs/TEST-METERS.md), so ``evd conformance http://127.0.0.1:8080/xmlvend`` needs no options
against our server. Against another server, override the credentials and the test meters
by role (``--meter blocked=01234567890``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from tools.conformance.transport import TLSFiles


@dataclass(frozen=True)
class MeterRole:
    """A test meter by what it provokes; ``default`` is our demo meter for the role."""

    name: str
    default: str
    provokes: str


# Kept in step with utilities/demo.py TEST_METERS and docs/TEST-METERS.md by a test
# (tests/conformance/test_conformance_docs.py): the kit must not invent other numbers.
METER_ROLES: tuple[MeterRole, ...] = (
    MeterRole("normal", "04100000019", "a normal sale"),
    MeterRole("blocked", "04100000035", "BlockedMeterEx"),
    MeterRole("unknown", "04100000043", "UnknownMeterEx (valid number, not registered)"),
    MeterRole("check_digit", "04100000040", "MSNOCheckDigitEx (wrong check digit)"),
    MeterRole("key_change", "04100000050", "key change tokens with the sale (or LatestKRNEx)"),
    MeterRole("fbe", "04100000068", "free basic electricity when due (fbeDue)"),
    MeterRole("debt", "04100000076", "a DebtRecoveryTx on every sale"),
    MeterRole("service_charge", "04100000084", "a monthly service charge (ServiceChrgTx)"),
    MeterRole("slow", "04100000092", "an upstream slower than the server's deadline"),
    MeterRole("upstream_failure", "04100000100", "SystemEx (utility unavailable)"),
    MeterRole("sgc_restricted", "04100000118", "SGCAuthorisationEx for the primary client"),
)


def meter_roles_markdown() -> str:
    """The roles as the Markdown table of docs/CONFORMANCE.md."""
    lines = ["| Role | Default meter | What the server does with it |", "|---|---|---|"]
    lines += [f"| `{r.name}` | {r.default} | {r.provokes} |" for r in METER_ROLES]
    return "\n".join(lines) + "\n"


ROLE_NAMES: tuple[str, ...] = tuple(role.name for role in METER_ROLES)
DEFAULT_METERS: Mapping[str, str] = {role.name: role.default for role in METER_ROLES}


@dataclass(frozen=True)
class Credentials:
    """One vending client: its clientID (an EAN-13), a terminal and an operator."""

    client_id: str
    terminal_id: str = "1"
    op_name: str | None = None
    password: str | None = None


# Our demo vendors (vending/demo.py): the corner cafe is the primary client, the EVD
# platform the "other" client of the isolation cases.
DEMO_PRIMARY = Credentials("6004708000090", "1", "cashier1", "demo1234")
DEMO_OTHER = Credentials("6004708000106", "1", "platform", "demo5678")
# A vendor with little credit, so one sale can exceed it (VendorCreditEx).
DEMO_LOW_CREDIT = Credentials("6004708000113", "1", "lowcred", "lowcred1")


DEMO_KEY_CHANGE_FROM = ("123456", "1", "01")


@dataclass(frozen=True)
class Profile:
    """Everything a run needs besides the catalogue."""

    url: str
    client: Credentials = DEMO_PRIMARY
    # A second client for the isolation cases (msgID uniqueness per client, advices for
    # another client's request); None skips those cases.
    other_client: Credentials | None = DEMO_OTHER
    # A client whose available credit one sale can exceed (the VendorCreditEx case), used
    # when the primary client's credit is too high for that; None: only the primary.
    low_credit_client: Credentials | None = DEMO_LOW_CREDIT
    meters: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_METERS))
    # The key data (SGC, KRN, TI) the key_change meter holds in the field. Sent as a
    # b:MeterDetail, it makes every run a key change (the server's registry moves on after
    # the first). Our demo meter holds KRN 1 of the demo STA supply group.
    key_change_from: tuple[str, str, str] | None = DEMO_KEY_CHANGE_FROM
    currency: str = "ZAR"
    amount: Decimal = Decimal("10.00")
    # A voucher product of our extension namespace and its face value (None: skip the
    # extension cases; they also skip when the WSDL does not import the namespace).
    voucher: tuple[str, Decimal] | None = ("AIR-DEMO-10", Decimal("10.00"))
    # A biller that the server's bill payment network answers for: (biller id, customer
    # parameter name, its value); None skips the bill fetch-and-pay case.
    bill: tuple[str, str, str] | None = None
    bill_mobile: str = "9810000010"
    tls: TLSFiles = field(default_factory=TLSFiles)
    # The second client's certificate (mutual TLS: its requests go over its own).
    other_tls: TLSFiles = field(default_factory=TLSFiles)
    timeout: float = 9.0  # per HTTP request; under the 10 s clients give a server

    def meter(self, role: str) -> str | None:
        """The meter number for ``role``; None (or "") when the role is switched off."""
        return self.meters.get(role) or None

    def with_meters(self, overrides: Mapping[str, str]) -> Profile:
        unknown = set(overrides) - set(ROLE_NAMES)
        if unknown:
            raise ValueError(
                f"unknown meter role(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(ROLE_NAMES)}"
            )
        return replace(self, meters={**self.meters, **overrides})


def parse_key_data(text: str) -> tuple[str, str, str]:
    """``"123456:1:01"`` -> ``("123456", "1", "01")``."""
    parts = tuple(part.strip() for part in text.split(":"))
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise ValueError(f"key data must be SGC:KRN:TI (digits), got {text!r}")
    return parts  # type: ignore[return-value]


def parse_voucher(text: str) -> tuple[str, Decimal] | None:
    """``"AIR-DEMO-10=10.00"`` -> ``("AIR-DEMO-10", Decimal("10.00"))``; ``"none"`` -> None."""
    if text.strip().lower() == "none":
        return None
    code, sep, amount = text.partition("=")
    try:
        value = Decimal(amount)
    except ArithmeticError:
        value = None
    if not sep or not code.strip() or value is None:
        raise ValueError(f"--voucher wants CODE=AMOUNT (or none), got {text!r}")
    return code.strip(), value


def parse_bill(text: str) -> tuple[str, str, str] | None:
    """``"BESCOM000KAR01:Customer ID=1234567890"`` -> the biller id, the parameter name and
    its value; ``"none"`` -> None."""
    if text.strip().lower() == "none":
        return None
    biller, sep, param = text.partition(":")
    name, eq, value = param.partition("=")
    if not sep or not eq or not biller.strip() or not name.strip() or not value.strip():
        raise ValueError(f"--bill wants BILLERID:PARAMETER=VALUE (or none), got {text!r}")
    return biller.strip(), name.strip(), value.strip()


def parse_meter_overrides(values: list[str]) -> dict[str, str]:
    """``["blocked=0123", "slow="]`` -> ``{"blocked": "0123", "slow": ""}`` (empty = off)."""
    found: dict[str, str] = {}
    for value in values:
        role, sep, msno = value.partition("=")
        if not sep:
            raise ValueError(f"--meter wants ROLE=MSNO, got {value!r}")
        found[role.strip()] = msno.strip()
    return found
