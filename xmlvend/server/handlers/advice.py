"""adviceReq: last-response, reversal and confirmation advices (transaction control).

* LastRespAdviceReq replays the stored response of the advised msgID byte for byte inside
  ``lastResponse`` (a stored fault too); while that request is still running the answer is
  ``ext:TransactionDelayedEx``; with no such request, ``LastResponseEx``.
* ReversalAdviceReq reverses the advised sale as its product allows (refunding the vendor;
  a voucher's PIN is quarantined) -- ``txReversed="false"`` with the reason when it may
  not; ``ReversalEx`` when there is no such transaction. Idempotent.
* ConfirmationAdviceReq records the client's confirmation (``ConfirmationEx`` when there is
  no such transaction).

The advised transaction is always the client's own: request keys include the clientID.
"""

from __future__ import annotations

from collections.abc import Callable

from vending.requests import Processed, StoredResponse
from xmlvend.codec import types_base as b
from xmlvend.server import txns
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
        record = await services.run(
            "xmlvend_find_request",
            txns.request_record,
            services.keyring,
            call.client_id,
            original,
        )
        if record is None:
            if in_flight(call.client_id, original):
                raise TransactionDelayed(original)
            raise NoLastResponse(
                f"there is no transaction with msgID {original} for this client; "
                "it was not processed"
            )
        if record.response is None:
            raise TransactionDelayed(original)
        return Reply(services.renderer.last_response(request, record.response.body))

    return last_response


async def reversal(services: Services, call: Call) -> Reply:
    """ReversalAdviceReq: reverse the advised sale per its product's policy (idempotent)."""
    return await _advise(services, call, "xmlvend_reversal", txns.reverse_once,
                         services.renderer.reversal)  # fmt: skip


async def confirmation(services: Services, call: Call) -> Reply:
    """ConfirmationAdviceReq: record that the client completed the advised sale."""
    return await _advise(services, call, "xmlvend_confirmation", txns.confirm_once,
                         services.renderer.confirmation)  # fmt: skip


async def _advise(
    services: Services,
    call: Call,
    desc: str,
    advise_once: Callable[..., Processed],
    render_answer: Callable[[b.AdviceReq, bool, str], bytes],
) -> Reply:
    """Run a reversal or confirmation advice once under the advice's own request key; the
    answer (txReversed / txConfirmed and why) is rendered in its transaction."""
    request = call.request
    assert isinstance(request, b.AdviceReq)

    def render(done: bool, message: str) -> StoredResponse:
        return StoredResponse(render_answer(request, done, message), 200)

    processed = await services.run(
        desc,
        advise_once,
        services.keyring,
        call.key,
        call.who,
        request_id(request.advice_req_msg_id),
        render,
        services.clock(),
    )
    return Reply.of(processed)
