"""Small pieces on their own: gzip with a cap, Accept-Encoding, currency and meter
conversions, output text facets, the deadline race, metrics exposition."""

from __future__ import annotations

import gzip
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from vending.config import CurrencyConfig
from vending.errors import InvalidAmount, UnknownCurrency
from vending.money import Money
from xmlvend.codec import types_base as b
from xmlvend.server.convert import (
    Currencies,
    currency,
    meter_query,
    meter_query_of,
    person_name,
    token_text,
)
from xmlvend.server.deadline import InFlight, answer_by
from xmlvend.server.encoding import (
    BadEncoding,
    BodyTooLarge,
    UnsupportedEncoding,
    accepts_gzip,
    decode_body,
    gunzip,
)
from xmlvend.server.errors import UseCaseNotSupported
from xmlvend.server.metrics import Metrics

# --- gzip -----------------------------------------------------------------------------------------


def test_gunzip_caps_the_output() -> None:
    data = b"x" * 10_000
    assert gunzip(gzip.compress(data), 10_000) == data
    with pytest.raises(BodyTooLarge):
        gunzip(gzip.compress(data), 9_999)
    # Several members, as gzip allows.
    assert gunzip(gzip.compress(b"ab") + gzip.compress(b"cd"), 10) == b"abcd"
    with pytest.raises(BadEncoding):
        gunzip(gzip.compress(data)[:-20], 20_000)


def test_decode_body() -> None:
    assert decode_body(b"plain", None, 10) == b"plain"
    assert decode_body(gzip.compress(b"zipped"), b"gzip", 10) == b"zipped"
    assert decode_body(b"plain", b"identity", 10) == b"plain"
    with pytest.raises(UnsupportedEncoding):
        decode_body(b"x", b"br", 10)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        (b"gzip", True),
        (b"deflate, gzip;q=0.5", True),
        (b"gzip;q=0", False),
        (b"*", True),
        (b"identity", False),
        (b"gzip;q=nonsense", False),
    ],
)
def test_accepts_gzip(header: bytes | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected


# --- conversions ----------------------------------------------------------------------------------


def test_currencies() -> None:
    currencies = Currencies(CurrencyConfig())
    assert currencies.money(b.Currency(value=Decimal("90.00"), symbol="R")) == Money(9000, "ZAR")
    assert currencies.money(b.Currency(value=Decimal("1.5"), symbol="usd")) == Money(150, "USD")
    assert currencies.money(b.Currency(value=Decimal("5"), symbol=" ")) == Money(500, "ZAR")
    with pytest.raises(InvalidAmount):
        currencies.money(b.Currency(value=Decimal("1.005"), symbol="ZAR"))
    with pytest.raises(UnknownCurrency):
        currencies.money(b.Currency(value=Decimal("1"), symbol="XXQ"))
    assert currency(Money(5, "ZAR")) == b.Currency(value=Decimal("0.05"), symbol="ZAR")
    assert currency(Money(-12345, "LYD")).value == Decimal("-12.345")


@given(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from(["ZAR", "JPY", "KWD", "CLF", "USD"]),
)
def test_currency_values_are_those_of_money_format_exactly(amount: int, code: str) -> None:
    """Digits and exponent as parsing money.format() gives: the amount is written with
    exactly the currency's decimals (0.00, not 0)."""
    money = Money(amount, code)
    value = currency(money).value
    assert value.as_tuple() == Decimal(money.format()).as_tuple()
    assert format(value, "f") == money.format()


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("12345678901234567890", "12345678901234567890"),
        ("1234 5678 9012 3456 7890", "12345678901234567890"),
        ("1234-5678\t9012", "123456789012"),
        ("", ""),
    ],
)
def test_token_text_keeps_the_digits_only(token: str, expected: str) -> None:
    assert token_text(token) == expected


def test_meter_queries() -> None:
    assert meter_query(b.MeterNumber(msno=" 04100000019 ")).msno == "04100000019"
    detail = b.MeterDetail(
        meter_type=b.MeterType(at="07", tt="02"), msno="04100000019", sgc="123456", krn="1", ti="01"
    )
    query = meter_query(detail)
    assert (query.sgc, query.krn, query.ti, query.at, query.tt) == ("123456", 1, "01", "07", "02")
    card = meter_query(b.MeterCard(track2_data="600727041000000190===0702123456012"))
    assert card.msno == "04100000019"
    with pytest.raises(UseCaseNotSupported):
        meter_query_of(b.CustIDMethod(cust_identifier=b.CustIDNumber(id_no="123")))


def test_person_names_fit_the_schema() -> None:
    assert person_name("Flat 4 Mary Smith") == "Flat Mary Smith"
    assert person_name("1234") == "Customer"
    assert len(person_name("x" * 80)) == 40


# --- the deadline race ----------------------------------------------------------------------------


def test_answer_by_races_work_against_the_deadline() -> None:
    clock = Clock()
    work: Deferred = Deferred()
    late: list[object] = []
    answer = answer_by(
        clock,
        8.0,
        work,
        on_time=lambda r: ("on time", r),
        at_deadline=lambda: "delayed",
        late=late.append,
    )
    clock.advance(7.9)
    assert not answer.called
    clock.advance(0.1)
    assert answer.result == "delayed"
    work.callback("done")
    assert late == ["done"]

    fast: Deferred = Deferred()
    answer = answer_by(
        clock, 8.0, fast, on_time=lambda r: r, at_deadline=lambda: "x", late=late.append
    )
    fast.callback("quick")
    assert answer.result == "quick"
    assert not clock.getDelayedCalls()  # the timer is gone


def test_in_flight_counts_duplicates() -> None:
    running = InFlight()
    running.add(("c", "r"))
    running.add(("c", "r"))
    running.discard(("c", "r"))
    assert running.running("c", "r")
    running.discard(("c", "r"))
    assert not running.running("c", "r") and len(running) == 0


# --- metrics --------------------------------------------------------------------------------------


def test_metrics_exposition_keeps_labels_to_known_values() -> None:
    metrics = Metrics()
    metrics.request(
        operation="creditVend", outcome="ok", fault_class=None, http_status=200, seconds=0.02
    )
    metrics.request(
        operation="<script>", outcome="fault", fault_class="Secret123", http_status=500, seconds=9.5
    )
    text = metrics.render().decode()
    assert 'evd_xmlvend_request_seconds_bucket{operation="creditVend",le="0.025"} 1' in text
    assert 'evd_xmlvend_request_seconds_bucket{operation="unknown",le="10.0"} 1' in text
    assert 'fault_class="other"' in text
    assert "<script>" not in text and "Secret123" not in text
