"""The money transfer provider client (:mod:`catalogue.adapters.dmt_json`): the provider
interface for IMPS-like transfers, plus the penny drop (``verify_account``)."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from twisted.internet.defer import Deferred

from catalogue.adapters import dmt_json as proto
from catalogue.adapters.http import HttpChannel
from catalogue.adapters.json_client import SignedJsonClient
from catalogue.interface import ProviderOrder


class DmtJsonClient(SignedJsonClient):
    def __init__(self, name: str, channel: HttpChannel, secret: bytes | None = None) -> None:
        super().__init__(name, channel, secret)

    def execute(self, order: ProviderOrder) -> Deferred:
        return self._order_call(
            b"POST", "/transfer", proto.encode_transfer(order), proto.parse_transfer
        )

    def status(self, order_id: str) -> Deferred:
        path = "/status?" + urlencode({"order_id": order_id})
        return self._order_call(b"GET", path, None, proto.parse_transfer)

    def verify_account(self, account: str, ifsc: str) -> Deferred:
        """-> the bank's name for the account (None: no such account)."""
        body = proto.encode_verify("PD" + secrets.token_hex(9).upper(), account, ifsc)
        return self._side_call(b"POST", "/verify", body, proto.parse_verify)
