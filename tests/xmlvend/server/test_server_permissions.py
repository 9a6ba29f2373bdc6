"""Who may do what, and the keying of every request: vendor privileges for free and
engineering tokens, authCred/newPassword, and read-only answers kept under their key."""

from __future__ import annotations

from dataclasses import replace

from fixed_clock import NOW
from server_support import (
    CAFE,
    NORMAL_METER,
    World,
    advice,
    confirm_customer,
    credit_vend,
    vend_id,
    with_msg_id,
)

from vending.vendors import set_vendor_blocked, set_vendor_privileges
from xmlvend.codec import types_base as b
from xmlvend.codec import types_meter as m
from xmlvend.codec import types_revenue as r

KIOSK = "6004708000113"  # demo vendor without privileges
KIOSK_OPERATOR = ("lowcred", "lowcred1")


def _grant(world: World, client_id: str, **change: set[str]) -> None:
    world.database.run_txn(
        "test_privileges",
        set_vendor_privileges,
        client_id,
        actor="test",
        now=world.clock(),
        **change,
    )


def _free_issue(world: World, client_id: str, operator: tuple[str, str]) -> r.FreeIssueReq:
    return r.FreeIssueReq(
        header=world.header(client_id, operator),
        resource=b.Electricity(),
        id_method=vend_id(NORMAL_METER),
    )


def _clear_credit(world: World, client_id: str, operator: tuple[str, str]) -> m.ClearCreditReq:
    return m.ClearCreditReq(
        header=world.header(client_id, operator),
        resource=b.Electricity(),
        id_method=vend_id(NORMAL_METER),
    )


def test_free_and_engineering_tokens_need_a_privilege(world: World) -> None:
    """A plain vendor selling electricity may not hand out free credit or clear a meter."""
    for request in (_free_issue(world, KIOSK, KIOSK_OPERATOR),
                    _clear_credit(world, KIOSK, KIOSK_OPERATOR)):  # fmt: skip
        response = world.call(request)
        assert response.status == 500
        assert response.fault_class() == "RequestAuthorisationEx"
    # The same vendor may still sell.
    assert world.call(credit_vend(world.header(KIOSK, KIOSK_OPERATOR), NORMAL_METER, "5.00"))


def test_granting_and_revoking_a_privilege_takes_effect_at_once(world: World) -> None:
    _grant(world, KIOSK, grant={"free_issue"})
    granted = world.call(_free_issue(world, KIOSK, KIOSK_OPERATOR))
    assert granted.status == 200, granted.body
    assert isinstance(granted.parsed(), r.FreeIssueResp)
    # Revoked while the vendor's verified credentials are still cached: refused.
    _grant(world, KIOSK, revoke={"free_issue"})
    refused = world.call(_free_issue(world, KIOSK, KIOSK_OPERATOR))
    assert refused.fault_class() == "RequestAuthorisationEx"


def test_new_password_replaces_the_old_one(world: World) -> None:
    header = world.header(KIOSK, KIOSK_OPERATOR)
    header = replace(header, auth_cred=replace(header.auth_cred, new_password="fresh123"))
    request = confirm_customer(header, NORMAL_METER)
    first = world.call(request)
    assert first.status == 200, first.body
    # The client did not see the answer and sends the same request again: same answer.
    assert world.call(request).body == first.body
    # The old password is gone, the new one works.
    old = world.call(confirm_customer(world.header(KIOSK, KIOSK_OPERATOR), NORMAL_METER))
    assert old.fault_class() == "RequestAuthorisationEx"
    new = world.call(confirm_customer(world.header(KIOSK, ("lowcred", "fresh123")), NORMAL_METER))
    assert new.status == 200


def test_a_too_short_new_password_is_refused_and_changes_nothing(world: World) -> None:
    """b:Password is (\\S){6,15}: the schema refuses it before anything else happens."""
    header = world.header(KIOSK, KIOSK_OPERATOR)
    header = replace(header, auth_cred=replace(header.auth_cred, new_password="abc"))
    response = world.call(confirm_customer(header, NORMAL_METER))
    assert response.fault_class() == "XMLVendSchemaEx"
    still = world.call(confirm_customer(world.header(KIOSK, KIOSK_OPERATOR), NORMAL_METER))
    assert still.status == 200


def test_every_request_is_keyed_read_only_ones_too(world: World) -> None:
    confirm = confirm_customer(world.header(), NORMAL_METER)
    first = world.call(confirm)
    world.clock.now = world.clock.now.replace(second=30)  # a later answer would differ
    # Same key, same request: the stored bytes again.
    assert world.call(confirm).body == first.body
    # Same key for another request: refused, nothing sold.
    before = world.balance()
    reused = world.call(
        with_msg_id(credit_vend(world.header(), NORMAL_METER), confirm.header.msg_id)
    )
    assert reused.fault_class() == "DuplicateMsgIDEx"
    assert world.balance() == before
    # A last-response advice finds the confirmation's answer.
    last = world.call(advice(b.LastRespAdviceReq, world.header(), confirm.header.msg_id))
    assert last.status == 200
    assert last.parsed().last_response == first.parsed()
    assert CAFE in first.body.decode()


def test_a_vendor_blocked_after_caching_gets_no_answer_to_a_read_only_request(
    world: World,
) -> None:
    """Blocking takes effect on the very next request, read-only ones included, although the
    vendor's verified credentials are still cached."""
    assert world.call(confirm_customer(world.header(), NORMAL_METER)).status == 200
    world.database.run_txn("block", set_vendor_blocked, CAFE, True, actor="test", now=NOW)
    response = world.call(confirm_customer(world.header(), NORMAL_METER))
    assert response.fault_class() == "ClientIDAuthorisationEx"
