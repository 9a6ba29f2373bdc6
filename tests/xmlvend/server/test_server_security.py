"""Authentication behaviour (verified-credential cache, password changes and blocks taking
effect at once) and what the server writes about requests: one structured access line each,
metrics -- never a password, PIN or token."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pytest
from fixed_clock import NOW
from server_support import (
    CAFE,
    CAFE_OPERATOR,
    NORMAL_METER,
    UNKNOWN_METER,
    World,
    confirm_meter,
    credit_vend,
    voucher_vend,
)

from vending import auth as auth_module
from vending.passwords import hash_password
from vending.vendors import get_operator, set_operator_password
from xmlvend.codec import SoapFault, render_request
from xmlvend.server.accesslog import ACCESS_LOGGER, AccessLog, AccessRecord, JSONLineFormatter


def test_cached_credentials_skip_scrypt(lite_world: World, monkeypatch: Any) -> None:
    calls: list[str] = []
    real = auth_module.verify_password

    def counting(password: str, stored: str) -> bool:
        calls.append(stored)
        return real(password, stored)

    monkeypatch.setattr(auth_module, "verify_password", counting)
    for _ in range(3):
        assert (
            lite_world.call(credit_vend(lite_world.header(), NORMAL_METER, "10.00")).status == 200
        )
    assert len(calls) == 1


def test_a_password_change_takes_effect_on_the_next_request(world: World) -> None:
    assert world.call(confirm_meter(world.header(), NORMAL_METER)).status == 200  # cached

    def change(txn: Any) -> None:
        operator = get_operator(txn, CAFE_OPERATOR[0], CAFE)
        set_operator_password(
            txn, operator.id, hash_password("newpass99", log_n=10), actor="t", now=NOW
        )

    world.database.run_txn("passwd", change)
    old = world.call(credit_vend(world.header(), NORMAL_METER, "10.00"))
    assert old.status == 500
    assert old.parsed().fault_class == "RequestAuthorisationEx"
    new = world.call(
        credit_vend(world.header(operator=(CAFE_OPERATOR[0], "newpass99")), NORMAL_METER, "10.00")
    )
    assert new.status == 200


# --- the access log and the metrics ---------------------------------------------------------------


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = JSONLineFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == ACCESS_LOGGER
    ]


def test_one_structured_line_per_request(
    lite_world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    ok = credit_vend(lite_world.header(), NORMAL_METER)
    lite_world.call(ok)
    lite_world.call(credit_vend(lite_world.header(), UNKNOWN_METER))
    lite_world.post(b"garbage")
    lite_world.get("/xmlvend?wsdl")
    lines = access_lines(caplog)
    assert len(lines) == 4
    first, second, third, fourth = lines
    assert first["event"] == "request"
    assert (first["client_id"], first["operation"], first["outcome"]) == (
        CAFE,
        "creditVend",
        "ok",
    )
    assert first["msg_id"] == f"{ok.header.msg_id.date_time}/{ok.header.msg_id.unique_number}"
    assert first["http_status"] == 200 and first["fault_class"] is None
    assert isinstance(first["latency_ms"], float)
    assert (second["outcome"], second["fault_class"], second["http_status"]) == (
        "fault",
        "UnknownMeterEx",
        500,
    )
    assert (third["operation"], third["fault_class"]) == ("unknown", "XMLVendSchemaEx")
    assert (fourth["operation"], fourth["http_status"]) == ("wsdl", 200)


def test_access_record_fields_are_every_field_in_order_values_cut() -> None:
    long = "x" * 100
    record = AccessRecord(long, "20260101/1", "creditVend", "ok", None, 1.23456, 200, peer=long)
    fields = record.fields()
    # Every field of the record, in declaration order (the line's key order).
    assert list(fields) == [f.name for f in dataclasses.fields(AccessRecord)]
    expected = dataclasses.asdict(record)
    expected.update(client_id="x" * 64, peer="x" * 64, latency_ms=1.235)
    assert fields == expected


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JSONLineFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_access_log_writes_what_logger_info_writes_and_honours_level_filters_disabled() -> None:
    logger = logging.getLogger(ACCESS_LOGGER + ".test-direct")
    logger.propagate = False
    handler = _Lines()
    logger.addHandler(handler)
    record = AccessRecord("C1", "20260101/1", "creditVend", "ok", None, 1.5, 200, peer="127.0.0.1")
    try:
        logger.setLevel(logging.INFO)
        AccessLog(logger).write(record)
        logger.info("xmlvend request", extra={"access": record.fields()})
        direct, through_info = (json.loads(line) for line in handler.lines)
        direct.pop("ts"), through_info.pop("ts")  # the clock moved between the two
        assert direct == through_info
        assert direct["client_id"] == "C1" and direct["event"] == "request"

        logger.setLevel(logging.WARNING)
        AccessLog(logger).write(record)
        logger.setLevel(logging.INFO)
        refuse_all = logging.Filter("some.other.logger")
        logger.addFilter(refuse_all)
        AccessLog(logger).write(record)
        logger.removeFilter(refuse_all)
        logger.disabled = True
        AccessLog(logger).write(record)
        assert len(handler.lines) == 2
    finally:
        logger.disabled = False
        logger.removeHandler(handler)


def test_no_password_pin_or_token_in_logs_or_metrics(
    world: World, caplog: pytest.LogCaptureFixture, secrets_sentinel: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    # The demo operator's password is public (`evd demo` prints it): registered for the whole
    # session it would fail any later test, on the same xdist worker, whose output shows the
    # demo credentials. It is looked for in this test's logs and /metrics only.
    demo_password = CAFE_OPERATOR[1]
    secrets_sentinel.register("wrongpass77")
    vend = world.call(credit_vend(world.header(), NORMAL_METER)).parsed()
    token = vend.credit_vend_receipt.transactions.tx[0].credit_token_issue.token.sts_cipher
    voucher = world.call(voucher_vend(world.header())).parsed()
    pin = voucher.credit_vend_receipt.transactions.tx[0].voucher.pin
    secrets_sentinel.register(token, pin)
    # Faults too: a wrong password, and a password inside a broken request.
    world.call(credit_vend(world.header(operator=("cashier1", "wrongpass77")), NORMAL_METER))
    broken = render_request(credit_vend(world.header(), NORMAL_METER))[:-30]
    assert isinstance(world.post(broken).parsed(), SoapFault)

    formatter = JSONLineFormatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert token in vend.credit_vend_receipt.__repr__()  # the secrets are real ...
    secrets_sentinel.assert_absent(logged, "the log records")  # ... and nowhere in the logs
    metrics = world.get("/metrics").body
    secrets_sentinel.assert_absent(metrics, "/metrics")
    assert demo_password not in logged
    assert demo_password.encode() not in metrics
    assert len(access_lines(caplog)) >= 4
