"""A simulated insurer speaking :mod:`catalogue.adapters.insurance_json`.

Plans (our provider codes): ``TERM`` (life cover, ages 18-65), ``HEALTH`` (ages 0-70),
``ACCIDENT`` (ages 5-70); the yearly premium is the sum insured times the plan's rate (per
mille) for the age, times the term. A quote holds 30 minutes (the simulator's own memory).
Issue by the holder's mobile number's last digit: ``1`` FAILED (underwriting refused),
``2`` PENDING (until completed through the control endpoint, which sends the signed
callback), ``3`` issued but the answer held back ``hang`` seconds, else SUCCESS with a policy
number and a document reference. An issue whose premium is not the quote's is FAILED.
"""

from __future__ import annotations

import json
from typing import Any

from tools.simulators.common import OrderSimulator, SimOrder, json_body

# plan -> (lowest age, highest age, per-mille yearly rate at 30, per-mille added a year older)
PLANS = {"TERM": (18, 65, 1.0, 0.08), "HEALTH": (0, 70, 20.0, 0.6), "ACCIDENT": (5, 70, 0.8, 0.0)}
MESSAGES = {"FAILED": "Underwriting refused", "PENDING": "Under underwriting review"}


def premium(plan: str, sum_insured: int, age: int, term_years: int) -> int:
    low, high, rate, step = PLANS[plan]
    if not low <= age <= high:
        raise LookupError(f"{plan} covers ages {low} to {high}")
    yearly = sum_insured * (rate + step * max(0, age - 30)) / 1000
    return max(100, round(yearly * term_years))


class InsuranceSimulator(OrderSimulator):
    kind = "insurance"
    ref_field = "policy_no"
    extra_fields = ("document_ref",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.quotes: dict[str, tuple[str, int]] = {}

    def routes(self) -> dict[tuple[bytes, bytes], Any]:
        return {(b"POST", b"quote"): self._quote, (b"POST", b"issue"): self._issue}

    def _quote(self, request: Any, body: bytes) -> Any:
        data = json.loads(body)
        plan = str(data["plan"])
        if plan not in PLANS:
            answer = {"status": "FAILED", "message": f"no plan {plan}"}
        else:
            try:
                amount = premium(plan, int(data["sum_insured"]), int(data["age"]),
                                 int(data["term_years"]))  # fmt: skip
            except LookupError as exc:
                answer = {"status": "FAILED", "message": str(exc)}
            else:
                quote_id = f"Q{next(self.state.counter):011d}"
                self.quotes[quote_id] = (plan, amount)
                answer = {"status": "SUCCESS", "quote_id": quote_id, "premium": amount,
                          "valid_minutes": 30}  # fmt: skip
        return self.later(request, lambda: json_body(200, answer))

    def _issue(self, request: Any, body: bytes) -> Any:
        data = json.loads(body)
        order_id = str(data["order_id"])
        if order_id[:20] not in self.state.orders and self.quotes.get(
            str(data.get("quote_id"))
        ) != (data["plan"], data["premium"]):
            self.new_order(order_id, "FAILED", "no such quote for this plan and premium")
        return self.take(request, order_id, str(data["holder"]["mobile"]), MESSAGES)

    def completed(self, order: SimOrder, status: str) -> None:
        if status == "SUCCESS":
            order.ref = order.ref or f"POL{order.txn_id[3:]}"
            order.extra["document_ref"] = f"DOC-{order.ref}.pdf"
            order.message = "Policy issued"
        else:
            order.message = "Underwriting refused"
