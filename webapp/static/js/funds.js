import { api, ApiError, NetworkError } from "./api.js";
import { alertBox, field, h, money, on, show, when } from "./dom.js";

// A merchant asks its parent in the distribution network for credit (POST /fund-requests);
// approval is the transfer. The request's reference is made once per attempt and reused on
// "Try again": the server refuses a second request with the same reference.
export async function fundsView() {
  const error = h("div", { id: "funds-error" });
  const list = h("ul", { class: "list", id: "fund-requests" });
  const amount = h("input", { type: "text", id: "fund-amount", inputmode: "decimal", placeholder: "500.00" });
  const reference = h("input", { type: "text", id: "fund-reference", maxlength: "32", autocomplete: "off" });
  const send = h("button", { type: "submit", id: "ask-funds" }, "Send request");
  const form = h("form", { novalidate: true }, field("Amount", amount), field("Your reference (optional)", reference), send);
  let attempt = null;
  on(form, "input", () => { attempt = null; send.textContent = "Send request"; });
  on(form, "submit", async (event) => {
    event.preventDefault();
    if (send.disabled) return;
    error.replaceChildren();
    const value = amount.value.trim();
    if (!/^[0-9]+(\.[0-9]{1,2})?$/.test(value)) return error.replaceChildren(alertBox("Enter an amount such as 500.00"));
    attempt = attempt || { amount: value, reference: reference.value.trim() || autoReference() };
    send.disabled = true;
    try {
      await api.askFunds(attempt);
      attempt = null;
      amount.value = "";
      reference.value = "";
      send.textContent = "Send request";
      await load();
    } catch (failure) {
      if (failure instanceof NetworkError) send.textContent = "Try again";
      error.replaceChildren(alertBox(failure.message));
      if (failure instanceof ApiError) await load();
    } finally {
      send.disabled = false;
    }
  });

  async function load() {
    try {
      const { data } = await api.fundRequests();
      list.replaceChildren(...data.items.map((request) => h("li", { dataset: { request: request.id } }, h("div", { class: "row" },
        h("span", {}, h("strong", {}, money(request.amount, request.currency)), h("br"), h("small", { class: "muted" }, `${request.reference} · ${when(request.created_at)}`),
          request.reason ? [h("br"), h("small", {}, request.reason)] : null),
        h("span", { class: `status ${statusClass(request.state)}` }, request.state)))));
      if (!data.items.length) list.append(h("li", {}, h("p", { class: "muted" }, "No requests yet.")));
      return true;
    } catch (failure) {
      const off = failure instanceof ApiError && (failure.status === 403 || failure.status === 501);
      show(h("h1", {}, "Ask for funds"), off
        ? h("p", { class: "note", id: "funds-off" }, "Fund requests are for merchants in a distribution network. Ask your dealer to add you.")
        : alertBox(failure.message));
      return false;
    }
  }
  show(h("h1", {}, "Ask for funds"), form, error, h("h2", {}, "Your requests"), list);
  await load();
}

function statusClass(state) {
  return { pending: "pending", approved: "completed", rejected: "failed", expired: "failed" }[state] || "";
}

function autoReference() {
  const bytes = new Uint8Array(5);
  crypto.getRandomValues(bytes);
  return "APP" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}
