import { api } from "./api.js";
import { alertBox, h, money, on, show, when } from "./dom.js";

// A list paged by cursor: the first page at once, the next at each tap on "More".
// fetchPage(cursor) is the API call ({ data: { items, next_cursor, ... } }); itemOf(item,
// data) is one <li>; `empty` is said when there is nothing at all.
async function pagedListView({ id, title, empty, fetchPage, itemOf }) {
  const list = h("ul", { class: "list", id });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "More");
  const error = h("div");
  let cursor = null;
  async function load() {
    more.disabled = true;
    try {
      const { data } = await fetchPage(cursor);
      for (const item of data.items) list.append(itemOf(item, data));
      if (!list.children.length) list.append(h("li", {}, h("p", { class: "muted" }, empty)));
      cursor = data.next_cursor;
      more.hidden = !cursor;
    } catch (failure) {
      error.replaceChildren(alertBox(failure.message));
    } finally {
      more.disabled = false;
    }
  }
  on(more, "click", load);
  show(h("h1", {}, title), list, more, error);
  await load();
}

// The caller's sales, newest first (GET /sales, paged by cursor); a tap opens one (its
// PIN or token again: a reprint).
export async function historyView() {
  await pagedListView({
    id: "history",
    title: "History",
    empty: "No sales yet.",
    fetchPage: (cursor) => api.sales(cursor),
    itemOf: (sale) => h("li", {}, h("a", { href: `#/sale/${sale.id}`, dataset: { sale: sale.id } },
      h("span", {}, h("strong", {}, sale.product), h("br"), h("small", { class: "muted" }, when(sale.created_at))),
      h("span", { class: "right" }, money(sale.amount, sale.currency), h("br"), h("span", { class: `status ${sale.status}` }, sale.status)))),
  });
}

// The ledger lines of the wallet or float (GET /account/statement).
export async function statementView() {
  await pagedListView({
    id: "statement",
    title: "Statement",
    empty: "Nothing yet.",
    fetchPage: (cursor) => api.statement(cursor),
    itemOf: (line, data) => h("li", {}, h("div", { class: "row" },
      h("span", {}, line.description || line.kind, h("br"), h("small", { class: "muted" }, when(line.at))),
      h("span", { class: "right" }, money(line.amount, data.currency), h("br"), h("small", { class: "muted" }, `Balance ${line.balance_after}`)))),
  });
}
