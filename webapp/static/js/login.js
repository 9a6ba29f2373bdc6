import { api, saveSession, ApiError } from "./api.js";
import { alertBox, field, h, on, show } from "./dom.js";

// Consumers sign in with their mobile number and PIN; merchants (a vendor's operator) with
// the client id, operator name and password they use at the till.
export function loginView(go, message) {
  let kind = "consumer";
  const error = h("div", { id: "login-error" });
  const consumerTab = h("button", { type: "button", role: "tab", "aria-selected": "true", id: "tab-consumer" }, "Consumer");
  const merchantTab = h("button", { type: "button", role: "tab", "aria-selected": "false", id: "tab-merchant" }, "Merchant");
  const msisdn = h("input", { type: "tel", id: "msisdn", autocomplete: "username", inputmode: "tel", placeholder: "27820000001" });
  const pin = h("input", { type: "password", id: "pin", autocomplete: "current-password", inputmode: "numeric" });
  const clientId = h("input", { type: "text", id: "client-id", autocomplete: "organization", inputmode: "numeric" });
  const operator = h("input", { type: "text", id: "operator", autocomplete: "username" });
  const password = h("input", { type: "password", id: "password", autocomplete: "current-password" });
  // One form per kind of login (password managers pair each form's fields).
  const consumerSubmit = h("button", { type: "submit", id: "sign-in" }, "Sign in");
  const merchantSubmit = h("button", { type: "submit", id: "sign-in-merchant" }, "Sign in");
  const consumerFields = h("form", { id: "consumer-fields", novalidate: true },
    field("Mobile number", msisdn), field("PIN", pin), consumerSubmit);
  const merchantFields = h("form", { id: "merchant-fields", novalidate: true, hidden: true },
    field("Client ID", clientId), field("Operator", operator), field("Password", password), merchantSubmit);

  function choose(which) {
    kind = which;
    consumerTab.setAttribute("aria-selected", String(which === "consumer"));
    merchantTab.setAttribute("aria-selected", String(which === "merchant"));
    consumerFields.hidden = which !== "consumer";
    merchantFields.hidden = which !== "merchant";
  }
  on(consumerTab, "click", () => choose("consumer"));
  on(merchantTab, "click", () => choose("merchant"));
  const submitted = async (event) => {
    event.preventDefault();
    const submit = kind === "consumer" ? consumerSubmit : merchantSubmit;
    if (submit.disabled) return;
    submit.disabled = true;
    error.replaceChildren();
    const credentials = kind === "consumer"
      ? { msisdn: msisdn.value.trim(), pin: pin.value }
      : { client_id: clientId.value.trim(), operator: operator.value.trim(), password: password.value };
    try {
      const { data } = await api.signIn(credentials);
      saveSession({ token: data.token, kind: data.kind, expires_at: data.expires_at });
      pin.value = "";
      password.value = "";
      go("#/home");
    } catch (failure) {
      const text = failure instanceof ApiError && failure.status === 401
        ? "Wrong details. Check them and try again."
        : failure.message;
      error.replaceChildren(alertBox(text));
    } finally {
      submit.disabled = false;
    }
  };
  on(consumerFields, "submit", submitted);
  on(merchantFields, "submit", submitted);
  show(
    h("h1", {}, "Sign in"),
    message ? h("p", { class: "note" }, message) : null,
    h("div", { class: "tabs", role: "tablist" }, consumerTab, merchantTab),
    consumerFields,
    merchantFields,
    error,
  );
}
