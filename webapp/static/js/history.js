import { api } from "./api.js";
import { alertBox, h, money, on, show, when } from "./dom.js";

// The caller's sales, newest first (GET /sales, paged by cursor); a tap opens one (its
// PIN or token again: a reprint).
export async function historyView() {
  const list = h("ul", { class: "list", id: "history" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "More");
  const error = h("div");
  let cursor = null;
  async function load() {
    more.disabled = true;
    try {
      const { data } = await api.sales(cursor);
      for (const sale of data.items) {
        list.append(h("li", {}, h("a", { href: `#/sale/${sale.id}`, dataset: { sale: sale.id } },
          h("span", {}, h("strong", {}, sale.product), h("br"), h("small", { class: "muted" }, when(sale.created_at))),
          h("span", { class: "right" }, money(sale.amount, sale.currency), h("br"), h("span", { class: `status ${sale.status}` }, sale.status)))));
      }
      if (!list.children.length) list.append(h("li", {}, h("p", { class: "muted" }, "No sales yet.")));
      cursor = data.next_cursor;
      more.hidden = !cursor;
    } catch (failure) {
      error.replaceChildren(alertBox(failure.message));
    } finally {
      more.disabled = false;
    }
  }
  on(more, "click", load);
  show(h("h1", {}, "History"), list, more, error);
  await load();
}

// The ledger lines of the wallet or float (GET /account/statement).
export async function statementView() {
  const list = h("ul", { class: "list", id: "statement" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "More");
  const error = h("div");
  let cursor = null;
  async function load() {
    more.disabled = true;
    try {
      const { data } = await api.statement(cursor);
      for (const line of data.items) {
        list.append(h("li", {}, h("div", { class: "row" },
          h("span", {}, line.description || line.kind, h("br"), h("small", { class: "muted" }, when(line.at))),
          h("span", { class: "right" }, money(line.amount, data.currency), h("br"), h("small", { class: "muted" }, `Balance ${line.balance_after}`)))));
      }
      if (!list.children.length) list.append(h("li", {}, h("p", { class: "muted" }, "Nothing yet.")));
      cursor = data.next_cursor;
      more.hidden = !cursor;
    } catch (failure) {
      error.replaceChildren(alertBox(failure.message));
    } finally {
      more.disabled = false;
    }
  }
  on(more, "click", load);
  show(h("h1", {}, "Statement"), list, more, error);
  await load();
}
