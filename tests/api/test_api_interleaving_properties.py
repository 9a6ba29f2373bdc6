"""Property: any interleaving of XMLVend and JSON API sales, reversals and replays for one
vendor keeps the ledger balanced, makes at most one sale per request key (exactly one when
the request succeeded), replays answers byte for byte, and leaves the vendor's float equal
to what its remaining sales cost it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from api_support import ApiWorld, build_api_world, idem
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import NORMAL_METER, VOUCHER_PRODUCT, advice, credit_vend, voucher_vend
from sqlalchemy import func, select

from vending.money import Money
from vending.storage.schema import requests, sales
from xmlvend.codec import render_request
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r

slot = st.integers(min_value=0, max_value=5)
product = st.sampled_from(("voucher", "electricity"))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("json_sale"), product, slot),
        st.tuples(st.just("xml_sale"), product, slot),
        st.tuples(st.just("json_reverse"), slot),
        st.tuples(st.just("xml_reverse"), slot),
    ),
    min_size=1,
    max_size=12,
)

_examples = itertools.count()


@dataclass
class Model:
    example: int
    # slot -> (first status, first body) of each channel's request in that slot
    answers: dict[tuple[str, int], tuple[int, bytes]] = field(default_factory=dict)
    msg_ids: dict[int, b.MsgID] = field(default_factory=dict)
    reversed_slots: set[tuple[str, int]] = field(default_factory=set)
    succeeded: set[tuple[str, int]] = field(default_factory=set)


def _json_body(kind: str) -> dict[str, str]:
    if kind == "voucher":
        return {"product": VOUCHER_PRODUCT, "amount": "10.00"}
    return {"product": "ELEC-DEMO", "meter": NORMAL_METER, "amount": "20.00"}


def _check_replay(model: Model, where: tuple[str, int], status: int, body: bytes) -> None:
    first = model.answers.setdefault(where, (status, body))
    if where not in model.reversed_slots and first[0] < 400 and status < 400:
        assert (status, body) == first, f"replay of {where} differs"
    if status < 300:
        model.succeeded.add(where)


def _json_sale(api: ApiWorld, model: Model, kind: str, n: int) -> None:
    key = idem(f"{model.example}-{n}")
    response = api.sell(_json_body(kind), idem=key)
    if response.status == 201 and "pin" in response.json():
        api.sentinel.register(response.json()["pin"])
    # A slot's body is fixed by its first sale: another body under its key is refused.
    first = model.answers.get(("json", n))
    if (
        first is not None
        and response.status == 422
        and (response.problem_type == "idempotency-key-reused")
    ):
        return
    _check_replay(model, ("json", n), response.status, response.body)


def _xml_sale(api: ApiWorld, model: Model, kind: str, n: int) -> None:
    world = api.xml
    msg_id = model.msg_ids.setdefault(n, world.msg_id())
    header = world.header(msg_id=msg_id)
    request = (
        voucher_vend(header) if kind == "voucher" else credit_vend(header, NORMAL_METER, "20.00")
    )
    response = world.post(render_request(request))
    parsed = response.parsed()
    if isinstance(parsed, r.CreditVendResp) and hasattr(parsed, "tx"):
        pass
    if response.status == 500 and getattr(parsed, "fault_class", "") == "DuplicateMsgIDEx":
        return
    _check_replay(model, ("xml", n), response.status, response.body)


def _json_reverse(api: ApiWorld, model: Model, n: int) -> None:
    found = model.answers.get(("json", n))
    if found is None or found[0] != 201:
        return
    import json

    sale_id = json.loads(found[1])["id"]
    response = api.client.post(f"/sales/{sale_id}/reversal", key=api.key)
    assert response.status in (200, 422), response.body
    if response.status == 200:
        model.reversed_slots.add(("json", n))


def _xml_reverse(api: ApiWorld, model: Model, n: int) -> None:
    if n not in model.msg_ids or ("xml", n) not in model.succeeded:
        return
    world = api.xml
    response = world.call(advice(b.ReversalAdviceReq, world.header(), model.msg_ids[n]))
    parsed = response.parsed()
    if getattr(parsed, "tx_reversed", False) or getattr(parsed, "reversed", False):
        model.reversed_slots.add(("xml", n))


def _invariants(api: ApiWorld, model: Model, start: Money) -> None:
    assert api.ledger_ok()

    def facts(txn: Any) -> tuple[int, int, int]:
        per_request = (
            txn.execute(select(func.count()).select_from(sales).group_by(sales.c.request_pk))
            .scalars()
            .all()
        )
        assert all(count == 1 for count in per_request)
        made = txn.execute(
            select(func.count())
            .select_from(sales)
            .join(requests, requests.c.id == sales.c.request_pk)
            .where(requests.c.channel.in_(("json", "xmlvend")))
        ).scalar_one()
        spent = txn.execute(
            select(
                func.coalesce(func.sum(sales.c.amount + sales.c.fee - sales.c.commission), 0)
            ).where(sales.c.state == "completed")
        ).scalar_one()
        return len(per_request), made, int(spent)

    count, made, spent = api.database.run_txn("facts", facts)
    assert count == made
    assert count >= len(model.succeeded)
    assert api.balance() == start - Money(spent, start.currency)


def test_interleaved_channels_keep_the_books_and_one_sale_per_key(
    database: Any, keyring: Any, secrets_sentinel: Any
) -> None:
    api = build_api_world(database, keyring, secrets_sentinel, vouchers=60)
    start = api.balance()
    actions = {
        "json_sale": _json_sale,
        "xml_sale": _xml_sale,
        "json_reverse": _json_reverse,
        "xml_reverse": _xml_reverse,
    }

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(operations)
    def run(ops: list[tuple[Any, ...]]) -> None:
        model = Model(next(_examples))
        for op in ops:
            actions[op[0]](api, model, *op[1:])
            _invariants(api, model, start)

    run()
