// Money in the app is integer minor units (paise, cents): typed amounts are parsed into
// minor units once, compared as integers, and formatted back into the API's decimal string
// only when sent. Floating point never touches an amount.

const DECIMAL = /^([0-9]{1,9})(?:\.([0-9]{1,2}))?$/;

// "154.5" -> 15450; anything that is not a plain amount with at most two decimals -> null.
export function toMinor(text) {
  const match = DECIMAL.exec(String(text).trim());
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || "").padEnd(2, "0"));
}

// 15450 -> "154.50" (the API's decimal string).
export function fromMinor(minor) {
  const units = Math.floor(minor / 100);
  return `${units}.${String(minor % 100).padStart(2, "0")}`;
}
