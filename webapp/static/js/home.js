import { api } from "./api.js";
import { alertBox, h, money, show } from "./dom.js";
import { FEATURES } from "./features.js";

export async function homeView(go, state) {
  const balance = h("p", { class: "balance", id: "balance" }, "…");
  const available = h("p", { class: "muted", id: "available" });
  const tiles = h("nav", { class: "tiles", "aria-label": "Buy and manage" },
    tile("#/buy/airtime", "Airtime", "tile-airtime"),
    tile("#/buy/data", "Data", "tile-data"),
    tile("#/buy/electricity", "Electricity", "tile-electricity"),
    FEATURES.bills ? tile("#/bills", "Bills", "tile-bills") : null,
    // Money transfer is sent by a merchant for a walk-in sender.
    state.kind === "merchant" && FEATURES.moneyTransfer ? tile("#/transfer", "Send money", "tile-transfer") : null,
    tile("#/history", "History", "tile-history"),
    tile("#/statement", "Statement", "tile-statement"),
    // Fund requests are a network node's (a merchant's); consumers top up at a merchant.
    state.kind === "merchant" && FEATURES.fundRequests ? tile("#/funds", "Ask for funds", "tile-funds") : null,
    FEATURES.rewardPoints ? tile("#/points", "Points", "tile-points") : null,
  );
  const signOut = h("button", { type: "button", class: "secondary", id: "sign-out" }, "Sign out");
  signOut.addEventListener("click", async () => {
    signOut.disabled = true;
    try {
      await api.signOut();
    } catch {
      // Signed out locally either way; the session also expires on its own.
    }
    go("#/login", "Signed out.");
  });
  const label = state.kind === "merchant" ? "Float available" : "Wallet balance";
  show(h("h1", {}, "Home"), h("section", { class: "card" }, h("span", { class: "muted" }, label), balance, available), tiles, signOut);
  try {
    const { data } = await api.account();
    balance.textContent = money(data.available, data.currency);
    available.textContent = state.kind === "merchant" ? `Balance ${money(data.balance, data.currency)}` : "";
  } catch (failure) {
    balance.replaceWith(alertBox(failure.message));
  }
}

function tile(href, text, id) {
  return h("a", { class: "tile", href, id }, text);
}
