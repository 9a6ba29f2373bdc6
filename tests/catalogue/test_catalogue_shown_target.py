"""How answers, receipts and result SMS show a provider order's target
(``catalogue.orders.shown_target`` over ``vending.oversight.masking.mask_account``): an
account or customer reference masked to its last four, never whole; a recharged number as
it is (the customer checks it, and its result SMS goes to it)."""

from __future__ import annotations

import pytest

from catalogue.orders import shown_target
from vending.oversight.masking import mask_account


@pytest.mark.parametrize(
    ("value", "shown"),
    [("123456789010", "****9010"), ("9876500010", "****0010"), ("12345678", "****5678"),
     ("123456", "****456"), ("1234", "****34"), ("7", "****"), ("", "****"),
     (" 123456789010 ", "****9010")],
)  # fmt: skip
def test_an_account_keeps_its_last_four_and_is_never_whole(value: str, shown: str) -> None:
    assert mask_account(value) == shown
    assert not value.strip() or value.strip() not in shown


@pytest.mark.parametrize(
    ("service", "target", "shown"),
    [("dmt", "SBIN0001234/123456789010:9876500001", "SBIN0001234/****9010"),
     ("bill", "BESCOM000KAR01:1234567890", "BESCOM000KAR01:****7890"),
     ("bill", "1234567890", "****7890"),
     ("insurance", "9876500010", "****0010"),
     ("travel", "9876500010", "****0010"),
     ("mobile", "9810012340", "9810012340"), ("dth", "3012345678", "3012345678"),
     ("datacard", "9810012340", "9810012340")],
)  # fmt: skip
def test_an_orders_target_as_answers_show_it(service: str, target: str, shown: str) -> None:
    assert shown_target(service, target) == shown
