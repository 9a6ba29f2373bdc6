// A provider order (a bill payment, a money transfer): its receipt, or "pending" with the order reference and
// then its final result, read from the order's status URL (GET /orders/{order_id}, or the
// deadline's /sales/by-key/{key}). Polling is polite: Retry-After when the server gives one,
// otherwise 2 s doubling up to 30 s, and it stops after a few minutes with a "Check again"
// button instead of asking forever.
import { api, NetworkError } from "./api.js";
import { alertBox, h, money, on, show } from "./dom.js";
import { stopPolling, trackPolling } from "./sale.js";

const GIVE_UP_MS = 5 * 60 * 1000;
const LONGEST_WAIT_S = 30;

const STATES = { success: "completed", failed: "failed", pending: "pending" };

// ``refLabel`` names the network's reference (a bill's approval reference, a transfer's UTR).
export function orderView(go, order, title, refLabel = "Approval reference") {
  stopPolling();
  const details = order.details || {};
  const rows = [
    ["Status", h("span", { class: `status ${STATES[order.status] || order.status}`, id: "status" }, order.status)],
    ["Biller", details.biller],
    ["Customer", details.customer_name],
    ["Bill number", details.bill_number],
    ["Amount", money(order.amount, order.currency)],
    [refLabel, order.operator_ref ? h("span", { id: "approval-ref", class: "mono" }, order.operator_ref) : null],
    ["Order", h("span", { id: "order-ref", class: "mono" }, order.order_id)],
    ["Receipt", order.receipt_number],
    ["Balance left", order.account ? money(order.account.available, order.account.currency) : null],
  ].filter(([, value]) => value !== null && value !== undefined && value !== "");
  show(h("h1", {}, order.status === "success" ? title : order.status === "failed" ? "Not paid" : "Pending"),
    order.message && order.status === "failed" ? alertBox(order.message) : null,
    h("section", { class: "card", id: "receipt" }, h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
    h("a", { class: "button", href: "#/home", id: "done" }, "Done"));
}

// "pending" with the order reference, then the final answer by polling ``location``.
export function followOrder(go, location, document, retryAfter, title, refLabel) {
  stopPolling();
  // A provider's "pending" names the order's status URL in its body; the deadline's 202 in
  // its Location header.
  location = location || document?.location;
  const reference = document?.order_id || document?.idempotency_key || "";
  const state = h("p", { id: "pending-state" }, h("span", { class: "status pending", id: "status" }, "pending"),
    " The network is still working on it. This page updates by itself.");
  const note = h("div", { id: "pending-note" });
  const again = h("button", { type: "button", class: "secondary", id: "check-again", hidden: true }, "Check again");
  show(h("h1", {}, "Pending"),
    h("section", { class: "card" }, state, h("p", { class: "muted" }, "Order reference ", h("span", { id: "order-ref", class: "mono" }, reference))),
    note, again, h("a", { class: "button secondary", href: "#/home" }, "Home"));
  let wait = retryAfter || 2;
  let started = Date.now();
  const poll = async (mine) => {
    let answer;
    try {
      answer = await api.byLocation(location);
    } catch (failure) {
      if (!mine()) return;
      // A refusal (422: refunded) is the final answer too; only a dropped connection is
      // asked again.
      if (!(failure instanceof NetworkError)) {
        return show(h("h1", {}, "Not paid"), alertBox(failure.message),
          failure.problem?.order_id ? h("p", { class: "muted" }, `Order ${failure.problem.order_id}`) : null,
          h("a", { class: "button", href: "#/home", id: "done" }, "Home"));
      }
      answer = null;
    }
    if (!mine()) return;
    if (answer && answer.status !== 202 && answer.data?.status !== "pending") return orderView(go, answer.data, title, refLabel);
    if (answer?.data?.location && /^\/api\/v1\/orders\//.test(answer.data.location)) location = answer.data.location;
    wait = answer?.retryAfter || Math.min(LONGEST_WAIT_S, wait * 2);
    if (Date.now() - started > GIVE_UP_MS) {
      note.replaceChildren(h("p", { class: "note" }, "Still pending. The result is kept: check again later, or find it in History."));
      again.hidden = false;
      return;
    }
    trackPolling(poll, wait);
  };
  on(again, "click", () => {
    again.hidden = true;
    note.replaceChildren();
    started = Date.now();
    wait = 2;
    trackPolling(poll, 0);
  });
  trackPolling(poll, wait);
}
