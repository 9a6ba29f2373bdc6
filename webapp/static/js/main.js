// The app's router (hash routes, so the server serves one page and the service worker one
// shell) and start-up: the service worker, the signed-in user in the header.
import { api, session, saveSession } from "./api.js";
import { h, show } from "./dom.js";
import { billsView } from "./bills.js";
import { buyView } from "./buy.js";
import { FEATURES } from "./features.js";
import { fundsView } from "./funds.js";
import { historyView, statementView } from "./history.js";
import { homeView } from "./home.js";
import { loginView } from "./login.js";
import { pointsView } from "./points.js";
import { saleByIdView, stopPolling } from "./sale.js";
import { transferView } from "./transfer.js";

const who = () => document.getElementById("who");

async function showWho() {
  try {
    const { data } = await api.me();
    // A name is data: textContent only, whatever it contains.
    who().textContent = data.kind === "merchant" ? `${data.name} · ${data.operator}` : data.name;
  } catch {
    who().textContent = "";
  }
}

let pendingMessage = null;

export function go(hash, message) {
  pendingMessage = message || null;
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

async function route() {
  stopPolling();
  const hash = window.location.hash || "#/home";
  const current = session();
  const message = pendingMessage;
  pendingMessage = null;
  if (!current || hash === "#/login") {
    if (hash === "#/login" && current) {
      saveSession(null);
    }
    who().textContent = "";
    if (window.location.hash !== "#/login") window.history.replaceState(null, "", "#/login");
    return loginView(go, message);
  }
  if (!who().textContent) showWho();
  const [, name, argument] = hash.split("/");
  switch (name) {
    case "home":
      return homeView(go, current);
    case "buy":
      return buyView(go, argument);
    case "history":
      return historyView(go);
    case "statement":
      return statementView(go);
    case "sale":
      return saleByIdView(go, argument);
    case "bills":
      if (FEATURES.bills) return billsView(go, argument);
      break;
    case "transfer":
      if (FEATURES.moneyTransfer && current.kind === "merchant") return transferView(go);
      break;
    case "funds":
      if (FEATURES.fundRequests && current.kind === "merchant") return fundsView(go);
      break;
    case "points":
      if (FEATURES.rewardPoints) return pointsView(go);
      break;
    default:
      break;
  }
  return show(h("h1", {}, "Not found"), h("a", { class: "button", href: "#/home" }, "Home"));
}

window.addEventListener("hashchange", route);
window.addEventListener("evd:signed-out", () => go("#/login", "Your session ended. Sign in again."));

if ("serviceWorker" in navigator) {
  // The worker caches the shell only (never an API answer): see sw.js.
  navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => {});
}

route();
