"""End to end through the XMLVend server: a creditVendReq goes in, the token in the
creditVendResp goes into a simulated meter holding the meter's real decoder key, and the
meter's credit rises by exactly the units on the receipt."""

from __future__ import annotations

from decimal import Decimal

from server_support import KEY_CHANGE_METER, NORMAL_METER, World, credit_vend

from tests.utilities.utility_meters import simulator_for
from utilities.sts import Rejection
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r


def _sale_tx(response: r.CreditVendResp) -> r.CreditVendTx:
    (tx,) = [t for t in response.credit_vend_receipt.transactions.tx if t.receipt_no]
    assert isinstance(tx, r.CreditVendTx)
    return tx


def _tenths(units: b.Units) -> int:
    return int(Decimal(units.value) * 10)


def test_the_vended_token_credits_the_meter_once(world: World) -> None:
    response = world.call(credit_vend(world.header(), NORMAL_METER, "100.00")).parsed()
    issue = _sale_tx(response).credit_token_issue
    meter = simulator_for(NORMAL_METER)

    accepted = meter.enter(issue.token.sts_cipher)
    assert accepted.accepted, accepted.message
    assert accepted.credited == _tenths(issue.units)
    assert meter.credit[0] == _tenths(issue.units) > 0

    again = meter.enter(issue.token.sts_cipher)
    assert (again.accepted, again.reason) == (False, Rejection.USED)
    assert meter.credit[0] == _tenths(issue.units)


def test_a_key_change_in_the_receipt_moves_the_meter_to_the_new_key(world: World) -> None:
    meter = simulator_for(KEY_CHANGE_METER, krn=1)  # the key data the meter holds today
    old_key_token = world.call(credit_vend(world.header(), NORMAL_METER, "10.00")).parsed()
    response = world.call(credit_vend(world.header(), KEY_CHANGE_METER, "50.00")).parsed()
    tx = _sale_tx(response)
    kc = tx.kc_token_issue
    assert kc is not None and (kc.kct_data.from_krn, kc.kct_data.to_krn) == ("1", "2")

    # The credit token is made under the new key: useless before the key change tokens.
    token = tx.credit_token_issue.token.sts_cipher
    assert meter.enter(token).reason is Rejection.CRC
    for key_token in (kc.token.set1st_meter_key, kc.token.set2nd_meter_key):
        outcome = meter.enter(key_token.sts_cipher)
        assert outcome.accepted, outcome.message
    assert (meter.krn, meter.base_date) == (2, 2014)

    credited = meter.enter(token)
    assert credited.accepted, credited.message
    assert meter.credit[0] == _tenths(tx.credit_token_issue.units)
    # Another meter's token does not fit this meter's key.
    other = _sale_tx(old_key_token).credit_token_issue.token.sts_cipher
    assert not meter.enter(other).accepted
