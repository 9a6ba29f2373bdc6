"""The JSON API's distribution network and reward points resources (issue 13 §3, §4):
fund requests (ask, list own, list the subtree's pending, approve, reject) and the
caller's points (balance, statement, redemption). Translation only: every fact and rule is
the services' (``vending.services.distribution``, ``vending.services.rewards``).

Mixed into :class:`jsonapi.api.JsonApi`, which routes to these handlers by name.
"""

from __future__ import annotations

from typing import Any

from distribution.fund_requests import FundRequest
from jsonapi import wire
from jsonapi.problems import FORBIDDEN, NOT_SUPPORTED, ApiProblem, invalid

# (method, path pattern under /api/v1, handler name): joined to jsonapi.api.ROUTES.
NETWORK_ROUTES = (
    ("POST", "/fund-requests", "ask_funds"),
    ("GET", "/fund-requests", "my_fund_requests"),
    ("GET", "/fund-requests/pending", "pending_fund_requests"),
    ("GET", r"/fund-requests/(?P<request_id>[0-9]{1,18})", "get_fund_request"),
    ("POST", r"/fund-requests/(?P<request_id>[0-9]{1,18})/approval", "approve_fund_request"),
    ("POST", r"/fund-requests/(?P<request_id>[0-9]{1,18})/rejection", "reject_fund_request"),
    ("GET", "/points", "points_balance"),
    ("GET", "/points/statement", "points_statement"),
    ("POST", "/points/redemptions", "redeem_points"),
)


def fund_request_document(request: FundRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "requester": request.requester,
        "reference": request.reference,
        "amount": wire.amount(request.amount),
        "currency": request.amount.currency,
        "state": request.state,
        "reason": request.reason,
        "created_at": None if request.created_at is None else wire.timestamp(request.created_at),
        "expires_at": wire.timestamp(request.expires_at),
        "decided_at": None if request.decided_at is None else wire.timestamp(request.decided_at),
        "transfer_id": request.transfer_id,
    }


class NetworkHandlers:
    """Handlers of :data:`NETWORK_ROUTES` (``self`` is the JsonApi)."""

    _s: Any

    async def _caller(self, incoming: Any) -> Any:  # provided by JsonApi
        raise NotImplementedError

    def _body(self, incoming: Any) -> dict[str, Any]:  # provided by JsonApi
        raise NotImplementedError

    def _network(self) -> Any:
        service = getattr(self._s, "distribution", None)
        if service is None:
            raise ApiProblem(NOT_SUPPORTED, "the distribution network is not enabled")
        return service

    def _rewards(self) -> Any:
        service = getattr(self._s, "rewards", None)
        if service is None:
            raise ApiProblem(NOT_SUPPORTED, "reward points are not enabled")
        return service

    async def _merchant(self, incoming: Any) -> Any:
        caller = await self._caller(incoming)
        if caller.is_consumer:
            raise ApiProblem(FORBIDDEN, "fund requests are for network nodes (an API key)")
        return caller

    # --- fund requests -------------------------------------------------------------------

    async def ask_funds(self, incoming: Any) -> Any:
        from jsonapi.api import Answer

        caller = await self._merchant(incoming)
        given = wire.fields(self._body(incoming), required=("amount", "reference"))
        amount = wire.money(given["amount"], caller.principal.currency)
        request = await self._network().ask_funds_as(caller.principal, amount, given["reference"])
        return Answer.json(
            201,
            fund_request_document(request),
            headers=((b"Location", f"/api/v1/fund-requests/{request.id}".encode()),),
        )

    async def my_fund_requests(self, incoming: Any) -> Any:
        from jsonapi.api import Answer

        caller = await self._merchant(incoming)
        found = await self._network().my_fund_requests(
            caller.principal, limit=wire.limit(incoming.param("limit"))
        )
        return Answer.json(200, {"items": [fund_request_document(r) for r in found]})

    async def get_fund_request(self, incoming: Any, request_id: str) -> Any:
        from jsonapi.api import Answer

        caller = await self._merchant(incoming)
        found = await self._network().fund_request_for(caller.principal, int(request_id))
        return Answer.json(200, fund_request_document(found))

    async def pending_fund_requests(self, incoming: Any) -> Any:
        from jsonapi.api import Answer

        caller = await self._merchant(incoming)
        found = await self._network().pending_for_principal(caller.principal)
        return Answer.json(200, {"items": [fund_request_document(r) for r in found]})

    async def _decide(self, incoming: Any, request_id: str, approve: bool) -> Any:
        from jsonapi.api import Answer

        caller = await self._merchant(incoming)
        body = self._body(incoming) if incoming.body else {}
        given = wire.fields(body, required=() if approve else ("reason",), optional=("reason",))
        decided = await self._network().decide_as(
            caller.principal, int(request_id), approve=approve, reason=given.get("reason", "")
        )
        # The decision may have queued the requester's webhook event: deliver it now.
        self._s.on_webhook_queued()
        return Answer.json(200, fund_request_document(decided))

    async def approve_fund_request(self, incoming: Any, request_id: str) -> Any:
        return await self._decide(incoming, request_id, True)

    async def reject_fund_request(self, incoming: Any, request_id: str) -> Any:
        return await self._decide(incoming, request_id, False)

    # --- reward points -------------------------------------------------------------------

    async def points_balance(self, incoming: Any) -> Any:
        from jsonapi.api import Answer

        caller = await self._caller(incoming)
        found = await self._rewards().balance(caller.principal)
        return Answer.json(
            200,
            {
                "points": found.points,
                "value": wire.amount(found.value),
                "currency": found.value.currency,
                "next_expiry": None
                if found.next_expiry is None
                else wire.timestamp(found.next_expiry),
                "expiring_points": found.expiring_points,
            },
        )

    async def points_statement(self, incoming: Any) -> Any:
        from jsonapi.api import Answer

        caller = await self._caller(incoming)
        limit = wire.limit(incoming.param("limit"))
        moves = await self._rewards().statement(
            caller.principal, before=wire.cursor(incoming.param("cursor")), limit=limit
        )
        return Answer.json(
            200,
            {
                "items": [
                    {
                        "id": move.id,
                        "at": wire.timestamp(move.at),
                        "kind": move.kind,
                        "points": move.points,
                        "value": wire.amount(move.value),
                        "currency": move.value.currency,
                        "sale_id": move.sale_id,
                        "reference": move.reference,
                    }
                    for move in moves
                ],
                "next_cursor": str(moves[-1].id) if len(moves) == limit else None,
            },
        )

    async def redeem_points(self, incoming: Any) -> Any:
        from jsonapi.api import Answer

        caller = await self._caller(incoming)
        reference = wire.idempotency_key(incoming.header("idempotency-key"))
        assert reference is not None
        body = self._body(incoming)
        unknown = sorted(set(body) - {"points"})
        if unknown:
            raise invalid(f"unknown field(s): {', '.join(unknown)}")
        points = body.get("points")
        if not isinstance(points, int) or isinstance(points, bool) or not 0 < points < 10**12:
            raise invalid("points must be a positive integer")
        done = await self._rewards().redeem(caller.principal, points, reference)
        return Answer.json(
            200 if done.replayed else 201,
            {
                "points": done.points,
                "value": wire.amount(done.value),
                "currency": done.value.currency,
                "transfer_id": done.transfer_id,
                "replayed": done.replayed,
            },
        )


__all__ = ["NETWORK_ROUTES", "NetworkHandlers", "fund_request_document"]
