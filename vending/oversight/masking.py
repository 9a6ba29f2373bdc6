"""Stored requests and answers as staff may read them: no PIN, token or card number in
clear. Answers are channel bytes (XMLVend SOAP, JSON, SMS text); rather than parse each
channel, values are masked by name (XML elements and attributes, JSON keys) and, as a
backstop, every long run of digits that could be a token, a PIN or a PAN is masked too.
A permission may show the clear answer instead (a reprint), never this module."""

from __future__ import annotations

import re

# Names whose values are secrets, in any channel (compared lower-case, namespace dropped).
SECRET_NAMES = ("pin", "pins", "token", "tokens", "stscipher", "pan", "cvv", "password", "otp")

_NAMES = "|".join(SECRET_NAMES)
# <ns:stsCipher ...>value</ns:stsCipher>
_XML_ELEMENT = re.compile(
    rf"(<(?:[\w.-]+:)?(?P<name>{_NAMES})\b[^>]*>)([^<]*)(</(?:[\w.-]+:)?(?P=name)\s*>)",
    re.IGNORECASE,
)
# pin="value" (an attribute, any namespace prefix)
_XML_ATTRIBUTE = re.compile(rf"(\s(?:[\w.-]+:)?(?:{_NAMES})\s*=\s*)([\"'])(.*?)\2", re.IGNORECASE)
# "pin": "value" or "token": 1234 (JSON)
_JSON_SCALAR = re.compile(rf"(\"(?:{_NAMES})\"\s*:\s*)(\"(?:[^\"\\]|\\.)*\"|-?\d+)", re.IGNORECASE)
# "pins": ["123", "456"] (a list of scalars; lists of objects are masked by their keys).
_JSON_LIST = re.compile(rf"(\"(?:{_NAMES})\"\s*:\s*)\[([^\[\]{{}}]*)\]", re.IGNORECASE)
_JSON_STRING = re.compile(r"\"(?:[^\"\\]|\\.)*\"")
# Digit runs, with single spaces or dashes between groups (tokens print as 4-4-4-4-4).
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){11,}")
# Digits a backstop masks from: PANs have 13-19, STS tokens 20, voucher PINs 12-20.
_MIN_SECRET_DIGITS = 12

MASK = "****"


def _mask_run(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = [c for c in text if c.isdigit()]
    if len(digits) < _MIN_SECRET_DIGITS:
        return text
    # The last four stay, as on a card slip: enough to tell two answers apart.
    return MASK + "".join(digits[-4:])


def mask_account(value: str) -> str:
    """An account number (or any customer reference) as an answer or receipt shows it: the
    mask and its last four characters, as a card slip shows a PAN (``****9010``); a value
    of eight characters or fewer keeps at most half of them, so none is shown whole."""
    value = value.strip()
    keep = min(4, len(value) // 2)
    return MASK + value[len(value) - keep :]


def mask_text(text: str, *, keep: tuple[str, ...] = ()) -> str:
    """``text`` with every secret masked. ``keep``: values shown as they are even when they
    look like secrets (the sale's own receipt number, meter or phone number)."""
    text = _XML_ELEMENT.sub(lambda m: f"{m.group(1)}{MASK}{m.group(4)}", text)
    text = _XML_ATTRIBUTE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", text)
    text = _JSON_SCALAR.sub(lambda m: f'{m.group(1)}"{MASK}"', text)
    # JSON lists of secrets ("tokens": [{"token": ...}] is covered above; ["123", ...] here).
    text = _JSON_LIST.sub(
        lambda m: m.group(1) + "[" + _JSON_STRING.sub(f'"{MASK}"', m.group(2)) + "]", text
    )
    kept = {k for k in keep if k}

    def backstop(match: re.Match[str]) -> str:
        return match.group(0) if match.group(0) in kept else _mask_run(match)

    return _DIGIT_RUN.sub(backstop, text)


def mask_bytes(body: bytes, *, keep: tuple[str, ...] = ()) -> str:
    """A stored body as masked text (undecodable bytes are replaced, never shown raw)."""
    return mask_text(body.decode("utf-8", errors="replace"), keep=keep)


__all__ = ["MASK", "mask_account", "mask_bytes", "mask_text"]
