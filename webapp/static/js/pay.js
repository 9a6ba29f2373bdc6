// The Pay button of one purchase attempt: the request is sent at most once at a time (the
// button disabled while it is), a dropped connection turns the button into "Try again" (the
// attempt's Idempotency-Key is the caller's, reused by every send), an answer goes to
// ``onAnswer`` and a refusal is shown in ``error``.
import { NetworkError } from "./api.js";
import { alertBox, on } from "./dom.js";

export function payOnce(button, error, { send, onAnswer, retryNote }) {
  let sending = false;
  on(button, "click", async () => {
    if (sending) return;
    sending = true;
    button.disabled = true;
    error.replaceChildren();
    let answer;
    try {
      answer = await send();
    } catch (failure) {
      sending = false;
      button.disabled = false;
      if (failure instanceof NetworkError) {
        button.textContent = "Try again";
        error.replaceChildren(alertBox(`${failure.message} ${retryNote}`));
      } else {
        error.replaceChildren(alertBox(String(failure.message || failure)));
      }
      return;
    }
    onAnswer(answer);
  });
}
