"""Lists longer than one USSD screen, paged (docs/USSD.md, "Long lists"): each page is
numbered from 1 and ends with ``98 More`` when another page follows and ``0 Back`` when
one precedes. The gateway sends every input so far, so a page is found again by replaying
the ``98``/``0`` inputs from the list's first page: nothing is kept between steps and a
resent step (same session, same text) gets the same page.

Numbers restart on each page, so an item's number never reaches ``98`` (a page holds far
fewer than 97 lines) and ``0`` is never an item."""

from __future__ import annotations

from dataclasses import dataclass

from vending.errors import InvalidRequest

MAX_SCREEN = 182  # characters of a whole answer, "CON " included
MORE = "98"
BACK = "0"
_PREFIX = len("CON ")


@dataclass(frozen=True)
class Paged:
    """Where the inputs led in a list: the chosen item's index and the inputs after the
    choice, or (no choice yet) the page to show."""

    chosen: int | None
    after: list[str]
    screen: str = ""


def _screen(title: str, lines: list[str], back: bool, more: bool) -> str:
    footer = ([f"{MORE} More"] if more else []) + ([f"{BACK} Back"] if back else [])
    return "\n".join([title, *lines, *footer])


def _numbered(names: list[str]) -> list[str]:
    return [f"{number} {name}" for number, name in enumerate(names, start=1)]


def _fits(title: str, names: list[str], back: bool, more: bool) -> bool:
    return _PREFIX + len(_screen(title, _numbered(names), back, more)) <= MAX_SCREEN


def pages(title: str, names: list[str]) -> list[range]:
    """The items (indexes into ``names``) of each page: the rest of the list if it fits
    with the title and ``0 Back``; else as many as fit with ``98 More`` too (at least one:
    a name longer than a screen is cut by the channel)."""
    found: list[range] = []
    start = 0
    while True:
        back = start > 0
        if _fits(title, names[start:], back, False):
            found.append(range(start, len(names)))
            return found
        stop = start + 1
        while _fits(title, names[start : stop + 1], back, True):
            stop += 1
        found.append(range(start, stop))
        start = stop


def page_through(title: str, names: list[str], inputs: list[str], width: int) -> Paged:
    """Replay ``inputs`` over the paged list: ``98`` a page on, ``0`` a page back, a
    number the item of the current page; ``InvalidRequest`` for anything else."""
    shown = [name[:width] for name in names]
    split = pages(title, shown)
    page = 0
    for used, given in enumerate(inputs):
        if given == MORE and page + 1 < len(split):
            page += 1
            continue
        if given == BACK and page > 0:
            page -= 1
            continue
        items = split[page]
        if not given.isdigit() or not 1 <= int(given) <= len(items):
            raise InvalidRequest("Invalid choice")
        return Paged(items[int(given) - 1], inputs[used + 1 :])
    lines = _numbered([shown[index] for index in split[page]])
    return Paged(None, [], _screen(title, lines, page > 0, page + 1 < len(split)))


__all__ = ["BACK", "MAX_SCREEN", "MORE", "Paged", "page_through", "pages"]
