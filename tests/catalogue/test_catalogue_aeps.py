"""AEPS (issue 14 §6) through the service with the bank interface's test implementation
(SQLite and PostgreSQL): Verhoeff, IIN, the daily biometric login, limits, declines, the
merchant's wallet credited with its commission, status enquiry on timeout, and the PID
block and Aadhaar number never stored or logged."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from catalogue_support import context, inr, ledger_ok, principal, vendor_balance
from sqlalchemy import select, text
from test_catalogue_fulfilment import START, run
from twisted.internet.defer import fail, succeed

from catalogue import aeps
from catalogue.interface import AepsAnswer, AepsBankRequest, Outcome, ProviderUnavailable
from vending.errors import InvalidRequest
from vending.requests import StoredResponse
from vending.services.aeps import AepsRequest, AepsService
from vending.storage.types import utcnow

PID = (
    b'<PidData><Resp errCode="0" fCount="1"/><Skey ci="20250923">c2VjcmV0LXNlc3Npb24ta2V5</Skey>'
    b'<Data type="X">ZW5jcnlwdGVkLWJpb21ldHJpY3M=</Data></PidData>'
)


def aadhaar(seed: str = "23456789012") -> str:
    return seed + str(aeps.verhoeff_check(seed))


@dataclass
class Bank:
    """Outcome by the amount's rupees: 51xx declines 51, 300 -> 300, 777 -> no answer."""

    down: bool = False
    statuses: dict[str, AepsAnswer] = field(default_factory=dict)
    seen_pids: list[bytes] = field(default_factory=list)

    def transact(self, request: AepsBankRequest) -> Any:
        if self.down:
            return fail(ProviderUnavailable("switch down"))
        self.seen_pids.append(request.pid.reveal_to_bank())
        rupees = 0 if request.amount is None else request.amount.amount // 100
        if rupees == 5100:
            return succeed(AepsAnswer(Outcome.FAILED, "RRN000000051", "51"))
        if rupees == 300:
            return succeed(AepsAnswer(Outcome.FAILED, "RRN000000300", "300"))
        if rupees == 777:
            return fail(TimeoutError("no answer"))
        statement = (
            ({"date": "2026-12-01", "type": "CR", "amount": 50_000},)
            if request.kind == "MS"
            else ()
        )
        return succeed(
            AepsAnswer(
                Outcome.SUCCESS,
                f"RRN{request.stan}000",
                "00",
                "Approved",
                inr(1_234_500),
                statement,
            )
        )

    def status(self, stan: str) -> Any:
        return succeed(self.statuses.get(stan, AepsAnswer(Outcome.UNKNOWN)))

    def login(self, agent_id: str, pid: Any) -> Any:
        return succeed(True)


class Renderer:
    def aeps(self, request: Any, record: aeps.AepsTxn) -> StoredResponse:
        body = {
            "state": record.state,
            "kind": record.kind,
            "code": record.response_code,
            "rrn": record.rrn,
            "aadhaar": "XXXXXXXX" + record.aadhaar_last4,
            "balance": None if record.balance is None else record.balance.amount,
            "commission": None if record.commission is None else record.commission.amount,
            "statement": record.statement,
        }
        return StoredResponse(json.dumps(body).encode(), 200 if record.state != "pending" else 202)


@pytest.fixture
def agent(shop, secrets_sentinel):  # type: ignore[no-untyped-def]
    secrets_sentinel.register(PID.decode(), aadhaar(), "c2VjcmV0LXNlc3Npb24ta2V5")
    bank = Bank()
    service = AepsService(_runner(shop), shop.keyring, shop.fulfilment._clock, bank)
    return shop, service, bank


def _runner(shop):  # type: ignore[no-untyped-def]
    from xmlvend.transport.asyncdb import ImmediateDatabase

    return ImmediateDatabase(shop.db)


def _do(
    agent,
    kind: str,
    amount: int | None = None,
    number: str | None = None,  # type: ignore[no-untyped-def]
    request_id: str | None = None,
    iin: str = "607094",
):
    shop, service, _ = agent
    ctx = context(principal(shop.db), request_id, body=f"aeps/{kind}/{amount}")
    request = AepsRequest(
        ctx,
        kind,
        number or aadhaar(),
        iin,
        aeps.PidBlock(PID),
        None if amount is None else inr(amount),
    )
    outcome = run(service.transact(request, Renderer()))
    return json.loads(outcome.response.body), outcome


def _login(agent) -> None:  # type: ignore[no-untyped-def]
    shop, service, _ = agent
    assert run(service.login(principal(shop.db), aeps.PidBlock(PID)))


def test_verhoeff() -> None:
    assert aeps.verhoeff_check("236") == 3
    assert aeps.verhoeff_valid("2363") and not aeps.verhoeff_valid("2364")
    assert aeps.check_aadhaar(aadhaar()) == aadhaar()
    with pytest.raises(InvalidRequest):
        aeps.check_aadhaar(aadhaar()[:-1] + str((int(aadhaar()[-1]) + 1) % 10))
    with pytest.raises(InvalidRequest):
        aeps.check_aadhaar("1" + aadhaar()[1:])  # never starts with 0 or 1


def test_pid_block_is_opaque() -> None:
    pid = aeps.PidBlock(PID)
    assert "PidData" not in repr(pid) and "Skey" not in str(pid)
    with pytest.raises(InvalidRequest):
        aeps.PidBlock(b"<xml/>")


def test_daily_biometric_login_required(agent) -> None:
    with pytest.raises(aeps.AgentNotLoggedIn):
        _do(agent, "BE")
    _login(agent)
    body, _ = _do(agent, "BE")
    assert body["state"] == "success" and body["balance"] == 1_234_500
    agent[0].reactor.advance(24 * 3600)  # the next day: log in again
    with pytest.raises(aeps.AgentNotLoggedIn):
        _do(agent, "BE")


def test_cash_withdrawal_credits_the_merchant_with_commission(agent) -> None:
    _login(agent)
    body, _ = _do(agent, "CW", 250_000, request_id="cw-1")
    assert body["state"] == "success" and body["commission"] == 600
    assert body["aadhaar"] == "XXXXXXXX" + aadhaar()[-4:]
    assert vendor_balance(agent[0].db) == START + 250_000 + 600
    again, replay = _do(agent, "CW", 250_000, request_id="cw-1")
    assert replay.replayed and again == body
    assert vendor_balance(agent[0].db) == START + 250_000 + 600
    ledger_ok(agent[0].db)


@pytest.mark.parametrize(("rupees", "code"), [(5100, "51"), (300, "300")])
def test_declines_move_nothing(agent, rupees: int, code: str) -> None:
    _login(agent)
    body, _ = _do(agent, "CW", rupees * 100)
    assert body["state"] == "declined" and body["code"] == code
    assert vendor_balance(agent[0].db) == START


def test_bank_down_is_declined_91(agent) -> None:
    _login(agent)
    agent[2].down = True
    body, _ = _do(agent, "CW", 10_000)
    assert (body["state"], body["code"]) == ("declined", "91")


def test_invalid_aadhaar_and_unknown_iin_refused(agent) -> None:
    _login(agent)
    with pytest.raises(InvalidRequest):
        _do(agent, "CW", 10_000, number="234567890123")
    with pytest.raises(InvalidRequest):
        _do(agent, "CW", 10_000, iin="999999")


def test_limits(agent) -> None:
    _login(agent)
    with pytest.raises(aeps.AepsLimit):
        _do(agent, "CW", 1_000_001)
    _do(agent, "CW", 1_000_000)
    _do(agent, "CW", 1_000_000)
    with pytest.raises(aeps.AepsLimit, match="daily"):
        _do(agent, "CW", 100)
    assert _do(agent, "CW", 100, number=aadhaar("34567890123"))[0]["state"] == "success"


def test_timeout_then_status_enquiry(agent) -> None:
    shop, _service, bank = agent
    _login(agent)
    body, _ = _do(agent, "CW", 77_700, request_id="cw-t")
    assert body["state"] == "pending"
    assert vendor_balance(shop.db) == START  # nothing moves before the bank approved
    stan = _stans(shop)[-1]
    bank.statuses[stan] = AepsAnswer(Outcome.SUCCESS, "RRN1", "00", "Approved")
    body, _ = _do(agent, "CW", 77_700, request_id="cw-t")  # the retry enquires again
    assert body["state"] == "success"
    assert vendor_balance(shop.db) == START + 77_700 + 200
    assert _do(agent, "CW", 77_700, request_id="cw-t")[0]["state"] == "success"
    ledger_ok(shop.db)


def _stans(shop) -> list[str]:  # type: ignore[no-untyped-def]
    from catalogue.tables import aeps_transactions

    return shop.db.run_txn(
        "s", lambda txn: [r.stan for r in txn.execute(select(aeps_transactions.c.stan))]
    )


def test_pid_and_aadhaar_never_stored(agent, secrets_sentinel) -> None:
    shop, _service, bank = agent
    _login(agent)
    _do(agent, "CW", 10_000)
    _do(agent, "MS")
    assert bank.seen_pids and bank.seen_pids[0] == PID  # forwarded as it came

    def dump(txn) -> str:  # type: ignore[no-untyped-def]
        from vending.storage.schema import metadata

        rows = []
        for table in metadata.sorted_tables:
            rows += [repr(tuple(r)) for r in txn.execute(text(f'SELECT * FROM "{table.name}"'))]
        return "\n".join(rows)

    secrets_sentinel.assert_absent(shop.db.run_txn("dump", dump), "the database")
    assert utcnow()  # the sentinel also checks every log record at the end of the run
