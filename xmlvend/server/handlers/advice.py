"""adviceReq: last-response, reversal and confirmation advices (transaction control).

* LastRespAdviceReq replays the stored response of the advised msgID byte for byte inside
  ``lastResponse`` (a stored fault too); while that request is still running the answer is
  ``ext:TransactionDelayedEx``; with no such request, ``LastResponseEx``.
* ReversalAdviceReq reverses the advised sale as its product's reversal policy allows
  (:mod:`vending.services.advices`: refunding the vendor, a voucher's PIN quarantined, the
  sale's stored answer withdrawn) -- ``txReversed="false"`` with the reason when it may
  not; ``ReversalEx`` when there is no such transaction. Idempotent.
* ConfirmationAdviceReq records the client's confirmation (``ConfirmationEx`` when there is
  no such transaction).

The advised transaction is always the client's own: request keys include the clientID.
"""

from __future__ import annotations

from collections.abc import Callable

from vending.services.advices import AdviceRequest, LastResponseRequest
from xmlvend.codec import types_base as b
from xmlvend.server.convert import request_id
from xmlvend.server.errors import NoLastResponse, TransactionDelayed
from xmlvend.server.handlers.base import Call, Reply, Services

InFlight = Callable[[str, str], bool]


def last_response_handler(in_flight: InFlight):  # type: ignore[no-untyped-def]
    """The LastRespAdviceReq handler; ``in_flight(client_id, request_id)`` tells whether
    this process is still working on a request it has not claimed in the database yet."""

    async def last_response(services: Services, call: Call) -> Reply:
        request = call.request
        assert isinstance(request, b.LastRespAdviceReq)
        original = request_id(request.advice_req_msg_id)
        record = await services.app.advices.last_response(LastResponseRequest(call.who, original))
        if record is None:
            if in_flight(call.client_id, original):
                raise TransactionDelayed(original)
            raise NoLastResponse(
                f"there is no transaction with msgID {original} for this client; "
                "it was not processed"
            )
        assert record.response is not None
        return Reply(services.renderer.last_response(request, record.response.body))

    return last_response


async def reversal(services: Services, call: Call) -> Reply:
    """ReversalAdviceReq: reverse the advised sale per its product's policy (idempotent)."""
    outcome = await services.app.advices.reverse(_advice(call), services.renderer)
    return Reply.of(outcome)


async def confirmation(services: Services, call: Call) -> Reply:
    """ConfirmationAdviceReq: record that the client completed the advised sale."""
    outcome = await services.app.advices.confirm(_advice(call), services.renderer)
    return Reply.of(outcome)


def _advice(call: Call) -> AdviceRequest:
    request = call.request
    assert isinstance(request, b.AdviceReq)
    return AdviceRequest(call.context(), request_id(request.advice_req_msg_id))
