"""ISO 8583 messages we exchange with the acquirer's switch (sans-IO: dicts and bytes).

The field spec is ``pyiso8583``'s ``default_ascii``. Messages (docs/CARDS.md):

* 0800/0810 network management: DE 70 ``001`` sign-on, ``301`` echo;
* 0200/0210 purchase: DE 2 PAN, 3 ``000000``, 4 amount (12 digits, minor units), 7
  transmission date/time MMDDhhmmss (UTC), 11 STAN, 12/13 local time/date, 14 expiry YYMM,
  32 acquirer, 37 RRN, 41 terminal, 42 merchant, 49 currency (numeric); the answer's 39
  (``00`` approved, ``05`` do not honour, ``51`` insufficient funds ...) and 38 auth code;
* 0420 reversal, repeated as 0421 until a 0430: DE 90 names the original (MTI, STAN, DE 7,
  acquirer, forwarder; 42 digits).

A message is never logged whole (DE 2 is the PAN): :func:`describe` gives a safe summary.
"""

from __future__ import annotations

import struct
from datetime import datetime

import iso8583
from iso8583.specs import default_ascii

SPEC = default_ascii
CURRENCY_NUMERIC = {"ZAR": "710", "INR": "356", "NGN": "566", "USD": "840", "EUR": "978"}
APPROVED = "00"
SIGN_ON = "001"
ECHO = "301"


def frame(raw: bytes) -> bytes:
    return struct.pack(">H", len(raw)) + raw


def encode(doc: dict[str, str]) -> bytes:
    raw, _ = iso8583.encode(dict(doc), SPEC)
    return bytes(raw)


def decode(raw: bytes) -> dict[str, str]:
    doc, _ = iso8583.decode(raw, SPEC)
    return {k: v for k, v in doc.items() if k not in ("p", "s", "h")}


def de7(now: datetime) -> str:
    return now.strftime("%m%d%H%M%S")


def rrn(now: datetime, stan: str) -> str:
    """Retrieval reference number: YDDD (year digit + day of year) + hh + STAN."""
    return f"{now.strftime('%y')[-1]}{now.strftime('%j')}{now.strftime('%H')}{stan}"


def network(stan: str, code: str, now: datetime) -> dict[str, str]:
    return {"t": "0800", "7": de7(now), "11": stan, "70": code}


def purchase(
    *,
    stan: str,
    rrn_: str,
    pan: str,
    expiry: str,
    amount_minor: int,
    currency: str,
    transmitted_at: str,
    now: datetime,
    terminal_id: str,
    merchant_id: str,
    acquirer_id: str,
) -> dict[str, str]:
    return {
        "t": "0200",
        "2": pan,
        "3": "000000",
        "4": f"{amount_minor:012d}",
        "7": transmitted_at,
        "11": stan,
        "12": now.strftime("%H%M%S"),
        "13": now.strftime("%m%d"),
        "14": expiry,
        "32": acquirer_id,
        "37": rrn_,
        "41": terminal_id,
        "42": merchant_id,
        "49": CURRENCY_NUMERIC.get(currency, "000"),
    }


def original_data(mti: str, stan: str, transmitted_at: str, acquirer_id: str) -> str:
    return f"{mti}{stan}{transmitted_at}{acquirer_id.zfill(11)}{'0' * 11}"


def reversal(
    *,
    repeat: bool,
    stan: str,
    rrn_: str,
    amount_minor: int,
    currency: str,
    transmitted_at: str,
    now: datetime,
    terminal_id: str,
    merchant_id: str,
    acquirer_id: str,
    reason: str = "4021",
) -> dict[str, str]:
    """0420 (first) or 0421 (repeat) for the 0200 sent with ``stan``/``transmitted_at``.
    No PAN: DE 90 and DE 37 identify the original."""
    return {
        "t": "0421" if repeat else "0420",
        "3": "000000",
        "4": f"{amount_minor:012d}",
        "7": de7(now),
        "11": stan,
        "32": acquirer_id,
        "37": rrn_,
        "41": terminal_id,
        "42": merchant_id,
        "49": CURRENCY_NUMERIC.get(currency, "000"),
        "90": original_data("0200", stan, transmitted_at, acquirer_id),
    }


def response_mti(mti: str) -> str:
    """0200 -> 0210, 0420/0421 -> 0430, 0800 -> 0810."""
    if mti in ("0420", "0421"):
        return "0430"
    return mti[:2] + str(int(mti[2]) + 1) + mti[3]


def describe(doc: dict[str, str]) -> str:
    """A loggable summary: never DE 2 (PAN), 14, 35, 45, 52, 55."""
    safe = {k: doc[k] for k in ("t", "11", "37", "39", "70") if k in doc}
    return " ".join(f"{k}={v}" for k, v in safe.items())


__all__ = [
    "APPROVED",
    "CURRENCY_NUMERIC",
    "ECHO",
    "SIGN_ON",
    "decode",
    "describe",
    "encode",
    "frame",
    "network",
    "purchase",
    "response_mti",
    "reversal",
    "rrn",
]
