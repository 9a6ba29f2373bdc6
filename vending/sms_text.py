"""SMS text: the GSM 03.38 alphabet, and splitting a reply into messages that fit.

A message whose every character is in the GSM-7 default alphabet (the extension table's
characters ``^{}\\[~]|€`` count two septets each) is sent as GSM-7: 160 septets in one SMS;
anything else goes as UCS-2: 70 UTF-16 code units (``ñ`` and a capital ``Ç`` are GSM;
``ç`` and any emoji are not). A longer text is split into parts of at most 153 septets /
67 code units (what a concatenated part leaves after its header), at spaces when possible,
never inside an extension pair or a surrogate pair. Pure: used by the core (recipient MTs)
and the SMS adapter (replies) alike.
"""

from __future__ import annotations

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"
_BASIC = frozenset(GSM7_BASIC) - {"\x1b"}
_EXTENSION = frozenset(GSM7_EXTENSION)

GSM7 = 0  # Kannel coding=0
UCS2 = 2  # Kannel coding=2

SINGLE_LIMIT = {GSM7: 160, UCS2: 70}
PART_LIMIT = {GSM7: 153, UCS2: 67}


def is_gsm7(text: str) -> bool:
    return all(ch in _BASIC or ch in _EXTENSION for ch in text)


def coding_of(text: str) -> int:
    return GSM7 if is_gsm7(text) else UCS2


def _cost(ch: str, coding: int) -> int:
    if coding == GSM7:
        return 2 if ch in _EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1  # UTF-16 code units


def length(text: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes."""
    coding = coding_of(text)
    return sum(_cost(ch, coding) for ch in text)


def split(text: str) -> list[tuple[str, int]]:
    """The parts of ``text``, each ``(text, coding)``, each fitting one SMS."""
    coding = coding_of(text)
    if sum(_cost(ch, coding) for ch in text) <= SINGLE_LIMIT[coding]:
        return [(text, coding)]
    limit = PART_LIMIT[coding]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    last_space = -1
    for ch in text:
        cost = _cost(ch, coding)
        if used + cost > limit:
            if last_space > 0:  # break after the last space
                head, tail = current[: last_space + 1], current[last_space + 1 :]
            else:
                head, tail = current, []
            parts.append("".join(head).rstrip(" "))
            current = tail
            used = sum(_cost(c, coding) for c in current)
            last_space = -1
        current.append(ch)
        used += cost
        if ch == " ":
            last_space = len(current) - 1
    if current:
        parts.append("".join(current))
    return [(part, coding) for part in parts if part]


__all__ = ["GSM7", "UCS2", "coding_of", "is_gsm7", "length", "split"]
