// Bill payment (BBPS): pick a biller (by category, or by searching its name), enter the
// customer's parameters (each checked against the biller's own pattern here, and again by
// the API), fetch the bill where the biller offers it, pay within the biller's amount rule,
// then the receipt with the network's approval reference, or "pending" until the order's
// final result. Amounts are handled in minor units (amounts.js).
import { api, ApiError, newIdempotencyKey } from "./api.js";
import { fromMinor, toMinor } from "./amounts.js";
import { alertBox, field, h, money, on, show, when } from "./dom.js";
import { followOrder, orderView } from "./orders.js";
import { payOnce } from "./pay.js";

const MOBILE = /^[6-9][0-9]{9}$/;
const RULES = {
  EXACT: "Pay exactly the amount due.",
  PARTIAL: "Pay the amount due or less.",
  OVER: "Pay the amount due or more.",
  ANY: "Pay any amount.",
};

// The billers, loaded once per visit of the Bills screens.
let billers = null;

async function loadBillers() {
  if (!billers) billers = (await api.billers()).data.items;
  return billers;
}

export async function billsView(go, billerId) {
  show(h("h1", {}, "Pay a bill"), h("p", { class: "muted" }, "Loading billers…"));
  let items;
  try {
    items = await loadBillers();
  } catch (failure) {
    billers = null;
    const off = failure instanceof ApiError && failure.status === 501;
    return show(h("h1", {}, "Pay a bill"), off ? h("p", { class: "note" }, "Bill payment is not offered here.") : alertBox(failure.message));
  }
  if (billerId) {
    const biller = items.find((item) => item.biller_id === billerId);
    return biller ? customerForm(go, biller) : show(h("h1", {}, "Pay a bill"), alertBox("No such biller."));
  }
  return pickBiller(items);
}

function pickBiller(items) {
  const categories = [...new Set(items.map((item) => item.category))].sort();
  const category = h("select", { id: "bill-category" }, h("option", { value: "" }, "All categories"),
    categories.map((name) => h("option", { value: name }, name)));
  const search = h("input", { type: "search", id: "biller-search", placeholder: "Biller name", autocomplete: "off" });
  const list = h("ul", { class: "list", id: "billers" });
  const render = () => {
    const wanted = search.value.trim().toLowerCase();
    const shown = items.filter((item) => (!category.value || item.category === category.value)
      && (!wanted || item.name.toLowerCase().includes(wanted)));
    list.replaceChildren(...shown.map((item) => h("li", {}, h("a", { class: "row", href: `#/bills/${item.biller_id}`, dataset: { biller: item.biller_id } },
      h("span", {}, item.name), h("small", { class: "muted right" }, item.category)))));
    if (!shown.length) list.append(h("li", {}, h("p", { class: "muted" }, "No biller matches.")));
  };
  on(category, "change", render);
  on(search, "input", render);
  render();
  show(h("h1", {}, "Pay a bill"), field("Category", category), field("Search", search), list);
}

// The biller's pattern, anchored (the API anchors it too); a pattern this browser cannot
// compile is left to the API's check.
function patternOf(param) {
  try {
    return new RegExp(`^(?:${param.pattern})$`);
  } catch {
    return null;
  }
}

function customerForm(go, biller) {
  const error = h("div", { id: "bill-error" });
  const inputs = biller.params.map((param, index) => h("input", {
    type: "text", id: `param-${index}`, autocomplete: "off", dataset: { name: param.name },
    placeholder: param.optional ? "optional" : "",
  }));
  const mobile = h("input", { type: "tel", id: "bill-mobile", inputmode: "numeric", autocomplete: "off", placeholder: "9810012345" });
  const fetching = biller.fetch !== "NOT_SUPPORTED";
  const amount = h("input", { type: "text", id: "bill-amount", inputmode: "decimal", placeholder: "0.00" });
  const fetchButton = h("button", { type: "submit", id: "fetch-bill" }, "Fetch bill");
  const payDirect = h("button", { type: fetching ? "button" : "submit", class: fetching ? "secondary" : "", id: "pay-direct" }, "Continue without fetching");
  const form = h("form", { novalidate: true },
    biller.params.map((param, index) => field(param.name, inputs[index])),
    field("Customer's mobile number", mobile),
    biller.fetch === "MANDATORY" ? null : field("Amount", amount),
    fetching ? fetchButton : null,
    biller.fetch === "MANDATORY" ? null : payDirect);

  // Every field checked here before any call; the API checks the same again.
  const collect = () => {
    const params = {};
    for (const [index, param] of biller.params.entries()) {
      const value = inputs[index].value.trim();
      if (!value) {
        if (param.optional) continue;
        return { problem: `Enter the ${param.name}.`, input: inputs[index] };
      }
      const pattern = patternOf(param);
      if (pattern && !pattern.test(value)) return { problem: `The ${param.name} is not in the biller's format.`, input: inputs[index] };
      params[param.name] = value;
    }
    const number = mobile.value.replace(/\s+/g, "");
    if (!MOBILE.test(number)) return { problem: "Enter the customer's 10-digit mobile number.", input: mobile };
    return { params, mobile: number };
  };
  const refuse = (found) => {
    for (const input of [...inputs, mobile, amount]) input.removeAttribute("aria-invalid");
    if (found.input) found.input.setAttribute("aria-invalid", "true");
    error.replaceChildren(alertBox(found.problem));
  };

  on(form, "submit", async (event) => {
    event.preventDefault();
    if (!fetching) return direct();
    const found = collect();
    if (found.problem) return refuse(found);
    error.replaceChildren();
    fetchButton.disabled = true;
    try {
      const { data } = await api.fetchBill({ biller_id: biller.biller_id, mobile: found.mobile, params: found.params });
      billView(go, biller, found, data);
    } catch (failure) {
      fetchButton.disabled = false;
      error.replaceChildren(alertBox(failure.message));
    }
  });
  const direct = () => {
    const found = collect();
    if (found.problem) return refuse(found);
    const minor = toMinor(amount.value);
    if (minor === null || minor <= 0) return refuse({ problem: "Enter an amount such as 250.00", input: amount });
    error.replaceChildren();
    confirmBill(go, biller, found, null, minor);
  };
  if (biller.fetch === "OPTIONAL") on(payDirect, "click", direct);
  show(h("h1", {}, biller.name), h("p", { class: "muted" }, `${biller.category} · ${RULES[biller.amount_rule] || ""}`), form, error);
}

// The amount rule of the biller against the bill, in minor units: the message of a refusal.
export function ruleProblem(rule, due, minor) {
  if (minor === null || minor <= 0) return "Enter an amount such as 250.00";
  if (due === null) return null;
  if (rule === "EXACT" && minor !== due) return `This biller takes exactly the amount due, ${fromMinor(due)}.`;
  if (rule === "PARTIAL" && minor > due) return `This biller takes at most the amount due, ${fromMinor(due)}.`;
  if (rule === "OVER" && minor < due) return `This biller takes at least the amount due, ${fromMinor(due)}.`;
  return null;
}

function billView(go, biller, customer, bill) {
  const due = toMinor(bill.amount);
  const error = h("div", { id: "bill-error" });
  const amount = h("input", { type: "text", id: "bill-amount", inputmode: "decimal", value: bill.amount, readonly: biller.amount_rule === "EXACT" });
  const next = h("button", { type: "submit", id: "continue" }, "Continue");
  const details = h("dl", { id: "bill" }, [
    ["Customer", bill.customer_name],
    ["Bill number", bill.bill_number],
    ["Bill date", bill.bill_date],
    ["Due date", bill.due_date],
    ["Amount due", money(bill.amount, bill.currency)],
  ].filter(([, value]) => value).map(([k, v]) => [h("dt", {}, k), h("dd", { dataset: { field: k } }, v)]));
  const form = h("form", { novalidate: true }, field(`Amount to pay (${bill.currency})`, amount),
    h("p", { class: "muted" }, RULES[biller.amount_rule] || ""), next);
  on(form, "submit", (event) => {
    event.preventDefault();
    const minor = toMinor(amount.value);
    const problem = ruleProblem(biller.amount_rule, due, minor);
    if (problem) {
      amount.setAttribute("aria-invalid", "true");
      return error.replaceChildren(alertBox(problem));
    }
    confirmBill(go, biller, customer, bill, minor);
  });
  show(h("h1", {}, "Bill"), h("section", { class: "card" }, details), form, error);
}

// One payment attempt: its Idempotency-Key is made once, here; a double tap or "Try again"
// after a dropped connection sends the same key and body, so the bill is paid once.
function confirmBill(go, biller, customer, bill, minor) {
  const key = newIdempotencyKey();
  const body = { biller_id: biller.biller_id, amount: fromMinor(minor), mobile: customer.mobile, params: customer.params };
  if (bill) body.ref_id = bill.ref_id;
  const error = h("div", { id: "pay-error" });
  const pay = h("button", { type: "button", id: "pay" }, "Pay");
  const currency = bill ? bill.currency : "";
  const lines = [
    ["Biller", biller.name],
    ...Object.entries(customer.params),
    ["Customer", bill ? bill.customer_name : ""],
    ["Amount", money(fromMinor(minor), currency)],
  ].filter(([, value]) => value);
  payOnce(pay, error, {
    send: () => api.payBill(body, key),
    onAnswer: (answer) => (answer.status === 202
      ? followOrder(go, answer.location, answer.data, answer.retryAfter, "Bill paid")
      : orderView(go, answer.data, "Bill paid")),
    retryNote: "The bill will not be paid twice.",
  });
  show(h("h1", {}, "Confirm payment"),
    h("section", { class: "card" }, h("dl", { id: "confirm" }, lines.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
    bill ? h("p", { class: "muted" }, `Bill fetched, valid until ${when(bill.expires_at)}`) : null,
    pay, h("a", { class: "button secondary", href: "#/home" }, "Cancel"), error);
}
