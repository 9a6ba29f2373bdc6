import { api, newIdempotencyKey } from "./api.js";
import { alertBox, field, h, money, on, show } from "./dom.js";
import { payOnce } from "./pay.js";
import { pendingView, saleView } from "./sale.js";

const TITLES = { airtime: "Buy airtime", data: "Buy data", electricity: "Buy electricity" };

export async function buyView(go, category) {
  if (!TITLES[category]) return go("#/home");
  show(h("h1", {}, TITLES[category]), h("p", { class: "muted" }, "Loading products…"));
  let products;
  try {
    products = (await api.products()).data.items.filter((item) => item.category === category);
  } catch (failure) {
    return show(h("h1", {}, TITLES[category]), alertBox(failure.message));
  }
  if (!products.length) {
    return show(h("h1", {}, TITLES[category]), h("p", { class: "note" }, "Nothing to buy here right now."));
  }
  if (category === "electricity") return electricity(go, products[0]);
  return vouchers(go, category, products);
}

function vouchers(go, category, products) {
  const error = h("div");
  const choices = products.map((product, index) => {
    const input = h("input", { type: "radio", name: "product", value: product.code, checked: index === 0 });
    const price = product.price ? money(product.price, product.currency) : `${product.min_amount}–${product.max_amount}`;
    return h("label", { class: "choice", dataset: { code: product.code } }, input, h("span", {}, product.name), h("strong", { class: "right" }, price));
  });
  const amount = h("input", { type: "text", id: "amount", inputmode: "decimal", placeholder: "10.00" });
  const amountField = h("div", { hidden: true }, field("Amount", amount));
  const next = h("button", { type: "submit", id: "continue" }, "Continue");
  const form = h("form", { novalidate: true }, h("fieldset", { class: "plain" }, choices), amountField, next);
  const selected = () => products.find((p) => p.code === form.querySelector("input[name=product]:checked")?.value);
  const sync = () => { amountField.hidden = Boolean(selected()?.price); };
  on(form, "change", sync);
  sync();
  on(form, "submit", (event) => {
    event.preventDefault();
    const product = selected();
    if (!product) return;
    const value = product.price || amount.value.trim();
    if (!/^[0-9]+(\.[0-9]{1,2})?$/.test(value)) {
      error.replaceChildren(alertBox("Enter an amount such as 10.00"));
      return;
    }
    confirmPay(go, {
      title: TITLES[category],
      lines: [["Product", product.name], ["Amount", money(value, product.currency)]],
      body: { product: product.code, amount: value },
    });
  });
  show(h("h1", {}, TITLES[category]), form, error);
}

function electricity(go, product) {
  const error = h("div", { id: "buy-error" });
  const meter = h("input", { type: "text", id: "meter", inputmode: "numeric", autocomplete: "off", placeholder: "04100000019" });
  const amount = h("input", { type: "text", id: "amount", inputmode: "decimal", placeholder: "100.00" });
  const check = h("button", { type: "submit", id: "check-meter" }, "Check meter");
  const form = h("form", { novalidate: true }, field("Meter number", meter), field(`Amount (${product.currency})`, amount), check);
  on(form, "submit", async (event) => {
    event.preventDefault();
    error.replaceChildren();
    const number = meter.value.replace(/\s+/g, "");
    const value = amount.value.trim();
    if (!/^[0-9]{6,20}$/.test(number)) return error.replaceChildren(alertBox("Enter the meter number (digits only)."));
    if (!/^[0-9]+(\.[0-9]{1,2})?$/.test(value)) return error.replaceChildren(alertBox("Enter an amount such as 100.00"));
    check.disabled = true;
    try {
      // The customer's name confirms the meter before any money moves.
      const { data } = await api.meter(number);
      if (!data.can_vend) throw new Error("This meter cannot be sold to right now.");
      confirmPay(go, {
        title: "Confirm meter",
        lines: [
          ["Customer", data.customer || "(no name on record)"],
          ["Address", data.address || ""],
          ["Meter", data.meter],
          ["Utility", data.utility],
          ["Amount", money(value, product.currency)],
        ],
        body: { product: product.code, meter: data.meter, amount: value },
      });
    } catch (failure) {
      error.replaceChildren(alertBox(failure.message));
      check.disabled = false;
    }
  });
  show(h("h1", {}, TITLES.electricity), form, error);
}

// One purchase attempt: its Idempotency-Key is made once, here, and every send of this
// attempt (a second tap, "Try again" after a dropped connection) reuses it.
function confirmPay(go, { title, lines, body }) {
  const key = newIdempotencyKey();
  const error = h("div", { id: "pay-error" });
  const pay = h("button", { type: "button", id: "pay" }, "Pay");
  const back = h("a", { class: "button secondary", href: "#/home" }, "Cancel");
  const details = h("dl", { id: "confirm" }, lines.filter(([, v]) => v !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  payOnce(pay, error, {
    send: () => api.sell(body, key),
    onAnswer: (answer) => (answer.status === 202
      ? pendingView(go, answer.location, answer.data, answer.retryAfter)
      : saleView(go, answer.data, { fresh: true })),
    retryNote: "You will not be charged twice.",
  });
  show(h("h1", {}, title), h("section", { class: "card" }, details), pay, back, error);
}
