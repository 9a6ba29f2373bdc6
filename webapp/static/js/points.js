import { api, ApiError, NetworkError, newIdempotencyKey } from "./api.js";
import { alertBox, field, h, money, on, show, when } from "./dom.js";

// Reward points: the balance, redemption into the wallet or float (one Idempotency-Key per
// attempt, so a double tap redeems once) and the statement of points.
export async function pointsView() {
  const balance = h("p", { class: "balance", id: "points" }, "…");
  const detail = h("p", { class: "muted", id: "points-value" });
  const error = h("div", { id: "points-error" });
  const done = h("div", { id: "points-done" });
  const list = h("ul", { class: "list", id: "points-statement" });
  const amount = h("input", { type: "number", id: "redeem-points", min: "1", step: "1", inputmode: "numeric" });
  const redeem = h("button", { type: "submit", id: "redeem" }, "Redeem");
  const form = h("form", { novalidate: true }, field("Points to redeem", amount), redeem);
  let attempt = null;
  on(form, "input", () => { attempt = null; redeem.textContent = "Redeem"; });
  on(form, "submit", async (event) => {
    event.preventDefault();
    if (redeem.disabled) return;
    error.replaceChildren();
    done.replaceChildren();
    const points = Number(amount.value);
    if (!Number.isInteger(points) || points <= 0) return error.replaceChildren(alertBox("Enter a whole number of points."));
    attempt = attempt && attempt.points === points ? attempt : { points, key: newIdempotencyKey() };
    redeem.disabled = true;
    try {
      const { data } = await api.redeem(attempt.points, attempt.key);
      attempt = null;
      amount.value = "";
      redeem.textContent = "Redeem";
      done.replaceChildren(h("p", { class: "note", id: "redeemed" }, `Redeemed ${data.points} points: ${money(data.value, data.currency)} added to your balance.`));
      await load();
    } catch (failure) {
      if (failure instanceof NetworkError) redeem.textContent = "Try again";
      error.replaceChildren(alertBox(failure.message));
    } finally {
      redeem.disabled = false;
    }
  });

  async function load() {
    try {
      const [{ data: points }, { data: moves }] = await Promise.all([api.points(), api.pointsStatement()]);
      balance.textContent = `${points.points} points`;
      detail.textContent = `Worth ${money(points.value, points.currency)}` +
        (points.next_expiry ? ` · ${points.expiring_points} expire ${when(points.next_expiry)}` : "");
      amount.max = String(points.points);
      list.replaceChildren(...moves.items.map((move) => h("li", {}, h("div", { class: "row" },
        h("span", {}, move.kind, h("br"), h("small", { class: "muted" }, when(move.at))),
        h("span", { class: "right" }, String(move.points), h("br"), h("small", { class: "muted" }, money(move.value, move.currency)))))));
      if (!moves.items.length) list.append(h("li", {}, h("p", { class: "muted" }, "No points yet.")));
    } catch (failure) {
      const off = failure instanceof ApiError && failure.status === 501;
      show(h("h1", {}, "Points"), off ? h("p", { class: "note" }, "Reward points are not offered here.") : alertBox(failure.message));
    }
  }
  show(h("h1", {}, "Points"), h("section", { class: "card" }, balance, detail), form, done, error, h("h2", {}, "Statement"), list);
  await load();
}
