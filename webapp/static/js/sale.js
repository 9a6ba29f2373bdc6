import { api } from "./api.js";
import { alertBox, grouped, h, money, on, show, when } from "./dom.js";

let polling = null;
// Bumped whenever polling stops, so an answer still on its way is dropped.
let generation = 0;

export function stopPolling() {
  if (polling) clearTimeout(polling);
  polling = null;
  generation += 1;
}

// Polling of other screens (bill payments): ``poll(mine)`` runs after ``seconds``; mine()
// says whether it is still wanted (no navigation away, no newer polling since).
export function trackPolling(poll, seconds) {
  if (polling) clearTimeout(polling);
  const mine = generation;
  polling = setTimeout(() => {
    polling = null;
    poll(() => mine === generation);
  }, seconds * 1000);
}

// A sale not final within the server's deadline: "pending", then the final answer by
// polling its Location (the API's 202 + Location), every Retry-After seconds.
export function pendingView(go, location, document, retryAfter) {
  stopPolling();
  const state = h("p", { id: "pending-state" }, h("span", { class: "status pending", id: "status" }, "pending"), " The supplier is still working on it. This page updates by itself.");
  show(h("h1", {}, "Pending"), h("section", { class: "card" }, state, h("p", { class: "muted" }, `Reference ${document?.idempotency_key || ""}`)),
    h("a", { class: "button secondary", href: "#/history" }, "History"));
  // Navigating away stops the polling (main.js); History shows the sale once final.
  let wait = (retryAfter || 2) * 1000;
  const mine = generation;
  const poll = async () => {
    polling = null;
    try {
      const answer = await api.byLocation(location);
      if (mine !== generation) return;
      if (answer.status === 200) return saleView(go, answer.data, { fresh: true });
      wait = (answer.retryAfter || 2) * 1000;
    } catch (failure) {
      if (mine !== generation) return;
      if (failure.status && failure.status !== 202) {
        return show(h("h1", {}, "Not sold"), alertBox(failure.message), h("a", { class: "button", href: "#/home" }, "Home"));
      }
    }
    polling = setTimeout(poll, wait);
  };
  polling = setTimeout(poll, wait);
}

export function saleView(go, sale, { fresh = false, reprintedAt = null } = {}) {
  stopPolling();
  const secrets = [];
  if (Array.isArray(sale.tokens) && sale.tokens.length) {
    for (const token of sale.tokens) {
      secrets.push(h("p", { class: "muted" }, token.kind === "credit" ? `Token${token.units ? ` · ${token.units} ${token.unit || ""}` : ""}` : `${token.kind} token`));
      secrets.push(h("p", { class: "secret", dataset: { kind: "token" } }, grouped(token.token)));
    }
  } else if (sale.pin) {
    secrets.push(h("p", { class: "muted" }, "PIN"));
    secrets.push(h("p", { class: "secret", dataset: { kind: "pin" }, id: "pin-value" }, grouped(sale.pin)));
  } else if (sale.status === "completed") {
    secrets.push(h("p", { class: "muted" }, "This sale was made on another channel; its PIN or token is on its own receipt."));
  }
  const receipt = sale.receipt || {};
  const rows = [
    ["Status", h("span", { class: `status ${sale.status}`, id: "status" }, sale.status)],
    ["Product", sale.product],
    ["Amount", money(sale.amount, sale.currency)],
    ["Meter", receipt.meter],
    ["Serial", sale.serial],
    ["Expires", sale.expiry],
    ["Receipt", sale.receipt_number],
    ["Date", when(sale.created_at)],
    ["Balance left", sale.account ? money(sale.account.available, sale.account.currency) : null],
  ].filter(([, value]) => value !== null && value !== undefined && value !== "");
  const reprint = h("button", { type: "button", class: "secondary", id: "reprint" }, "Reprint");
  on(reprint, "click", async () => {
    reprint.disabled = true;
    try {
      const { data } = await api.sale(sale.id);
      saleView(go, data, { reprintedAt: new Date() });
    } catch (failure) {
      reprint.disabled = false;
      reprint.after(alertBox(failure.message));
    }
  });
  if (fresh && sale.id) window.history.replaceState(null, "", `#/sale/${sale.id}`);
  show(
    h("h1", {}, fresh ? "Sold" : "Sale"),
    reprintedAt ? h("p", { class: "note", id: "reprint-note" }, `Reprint · ${when(reprintedAt.toISOString())}`) : null,
    h("section", { class: "card", id: "sale" }, secrets, h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
    sale.id ? reprint : null,
    h("a", { class: "button", href: "#/home", id: "done" }, "Done"),
  );
}

export async function saleByIdView(go, id) {
  show(h("h1", {}, "Sale"), h("p", { class: "muted" }, "Loading…"));
  try {
    const { data } = await api.sale(id);
    saleView(go, data);
  } catch (failure) {
    show(h("h1", {}, "Sale"), alertBox(failure.message));
  }
}
