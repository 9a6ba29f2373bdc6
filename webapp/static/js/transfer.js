// Money transfer (merchants, for a walk-in sender): the sender's mobile number → the
// sender's beneficiaries (account numbers masked by the API) and the month's limit left, or
// a new beneficiary checked by the bank's penny drop → the amount → the API's fee and the
// total → confirm → the receipt with the UTR, or "pending" with the order reference until
// its final result (orders.js). Amounts in minor units (amounts.js); limits are the API's
// to enforce, and its refusal is shown as it says.
import { api, newIdempotencyKey } from "./api.js";
import { fromMinor, toMinor } from "./amounts.js";
import { alertBox, field, h, money, on, show } from "./dom.js";
import { followOrder, orderView } from "./orders.js";
import { payOnce } from "./pay.js";

const MOBILE = /^[6-9][0-9]{9}$/;
const TITLE = "Money sent";
const UTR = "UTR";

export function transferView(go) {
  const error = h("div", { id: "transfer-error" });
  const mobile = h("input", { type: "tel", id: "sender-mobile", inputmode: "numeric", autocomplete: "off", placeholder: "9876500001" });
  const find = h("button", { type: "submit", id: "find-sender" }, "Continue");
  const form = h("form", { novalidate: true }, field("Sender's mobile number", mobile), find);
  on(form, "submit", async (event) => {
    event.preventDefault();
    const number = mobile.value.replace(/\s+/g, "");
    if (!MOBILE.test(number)) {
      mobile.setAttribute("aria-invalid", "true");
      return error.replaceChildren(alertBox("Enter the sender's 10-digit mobile number."));
    }
    mobile.removeAttribute("aria-invalid");
    error.replaceChildren();
    find.disabled = true;
    try {
      await senderView(go, number);
    } catch (failure) {
      find.disabled = false;
      error.replaceChildren(alertBox(failure.message));
    }
  });
  show(h("h1", {}, "Send money"), form, error);
}

// The sender's beneficiaries and limit left (GET /remitters/{mobile}/beneficiaries).
async function senderView(go, number) {
  const { data } = await api.beneficiaries(number);
  const list = h("ul", { class: "list", id: "beneficiaries" }, data.items.map((item) => h("li", {},
    h("button", { type: "button", class: "row", dataset: { beneficiary: String(item.id) } },
      h("span", {}, item.verified_name || item.name),
      h("small", { class: "muted right mono" }, `••••${item.account_last4} · ${item.ifsc}`)))));
  if (!data.items.length) list.append(h("li", {}, h("p", { class: "muted" }, "No beneficiary yet: add one below.")));
  for (const [index, button] of [...list.querySelectorAll("button")].entries()) {
    on(button, "click", () => amountView(go, data, data.items[index]));
  }
  show(h("h1", {}, "Send money"),
    h("section", { class: "card" }, h("span", { class: "muted" }, `${data.name} · ${data.mobile}`),
      h("p", { id: "limit" }, `Limit left this month ${money(data.remaining, data.currency)}`)),
    h("h2", {}, "Beneficiaries"), list, addForm(go, number));
}

// A new beneficiary: the API asks the bank (penny drop) and keeps the name the bank has.
function addForm(go, number) {
  const error = h("div", { id: "beneficiary-error" });
  const name = h("input", { type: "text", id: "beneficiary-name", autocomplete: "off" });
  const account = h("input", { type: "text", id: "beneficiary-account", inputmode: "numeric", autocomplete: "off" });
  const ifsc = h("input", { type: "text", id: "beneficiary-ifsc", autocomplete: "off", placeholder: "SBIN0001234" });
  const add = h("button", { type: "submit", class: "secondary", id: "add-beneficiary" }, "Check account and add");
  const form = h("form", { novalidate: true, id: "new-beneficiary" }, h("h2", {}, "New beneficiary"),
    field("Name", name), field("Account number", account), field("IFSC", ifsc), add, error);
  on(form, "submit", async (event) => {
    event.preventDefault();
    if (!/^[0-9]{9,18}$/.test(account.value.trim())) return error.replaceChildren(alertBox("An account number is 9 to 18 digits."));
    if (!/^[A-Za-z]{4}0[A-Za-z0-9]{6}$/.test(ifsc.value.trim())) return error.replaceChildren(alertBox("An IFSC is 4 letters, 0, then 6 letters or digits."));
    add.disabled = true;
    error.replaceChildren();
    try {
      await api.addBeneficiary(number, { name: name.value.trim(), account: account.value.trim(), ifsc: ifsc.value.trim().toUpperCase() });
      await senderView(go, number);
    } catch (failure) {
      add.disabled = false;
      error.replaceChildren(alertBox(failure.message));
    }
  });
  return form;
}

function amountView(go, sender, beneficiary) {
  const error = h("div", { id: "amount-error" });
  const amount = h("input", { type: "text", id: "transfer-amount", inputmode: "decimal", placeholder: "0.00" });
  const next = h("button", { type: "submit", id: "continue" }, "Continue");
  const form = h("form", { novalidate: true }, field(`Amount (${sender.currency})`, amount), next);
  on(form, "submit", async (event) => {
    event.preventDefault();
    const minor = toMinor(amount.value);
    if (minor === null || minor <= 0) {
      amount.setAttribute("aria-invalid", "true");
      return error.replaceChildren(alertBox("Enter an amount such as 2000.00"));
    }
    next.disabled = true;
    try {
      const { data } = await api.transferFee(fromMinor(minor));
      confirmTransfer(go, sender, beneficiary, minor, data);
    } catch (failure) {
      next.disabled = false;
      error.replaceChildren(alertBox(failure.message));
    }
  });
  show(h("h1", {}, "Amount"), h("p", { class: "muted" }, `To ${beneficiary.verified_name || beneficiary.name} ••••${beneficiary.account_last4}`), form, error);
}

// One transfer attempt: its Idempotency-Key is made once, here; a double tap or "Try again"
// after a dropped connection sends the same key and body, so the money is sent once.
function confirmTransfer(go, sender, beneficiary, minor, quote) {
  const key = newIdempotencyKey();
  const body = { sender: sender.mobile, beneficiary_id: beneficiary.id, amount: fromMinor(minor) };
  const error = h("div", { id: "pay-error" });
  const send = h("button", { type: "button", id: "pay" }, "Send");
  const lines = [
    ["Sender", `${sender.name} · ${sender.mobile}`],
    ["To", beneficiary.verified_name || beneficiary.name],
    ["Account", `••••${beneficiary.account_last4} · ${beneficiary.ifsc}`],
    ["Amount", money(fromMinor(minor), quote.currency), "amount"],
    ["Fee", money(quote.fee, quote.currency), "fee"],
    ["Total", money(quote.total, quote.currency), "total"],
  ];
  payOnce(send, error, {
    send: () => api.transfer(body, key),
    onAnswer: (answer) => (answer.status === 202
      ? followOrder(go, answer.location, answer.data, answer.retryAfter, TITLE, UTR)
      : orderView(go, answer.data, TITLE, UTR)),
    retryNote: "The money will not be sent twice.",
  });
  show(h("h1", {}, "Confirm transfer"),
    h("section", { class: "card" }, h("dl", { id: "confirm" }, lines.map(([k, v, id]) => [h("dt", {}, k), h("dd", id ? { id } : {}, v)]))),
    send, h("a", { class: "button secondary", href: "#/home" }, "Cancel"), error);
}
