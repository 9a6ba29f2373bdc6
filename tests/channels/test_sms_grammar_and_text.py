"""The SMS command grammar and GSM-7/UCS-2 splitting: pure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms.grammar import KEYWORDS, Command, CommandError, parse
from vending.sms_text import GSM7, UCS2, coding_of, length, split


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("help", Command("help")),
        ("  ? ", Command("help")),
        ("1234 bal", Command("balance", pin="1234")),
        ("1234   BALANCE ", Command("balance", pin="1234")),
        ("1234 buy air-demo-10", Command("buy", pin="1234", product="AIR-DEMO-10")),
        (
            "1234 Airtime AIR-DEMO-10 0831234567",
            Command("buy", pin="1234", product="AIR-DEMO-10", recipient="27831234567"),
        ),
        (
            "123456 BUY ELEC-OPEN 12,50 +27831234567",
            Command(
                "buy", pin="123456", product="ELEC-OPEN", amount="12.50", recipient="27831234567"
            ),
        ),
        (
            "1234 elec 04100000019 100",
            Command("electricity", pin="1234", meter="04100000019", amount="100"),
        ),
        (
            "1234 TOKEN 04100000019 R50.00 0831234567",
            Command(
                "electricity",
                pin="1234",
                meter="04100000019",
                amount="50.00",
                recipient="27831234567",
            ),
        ),
        ("1234 last", Command("last", pin="1234")),
        ("1234 PIN 5678 5678", Command("pin", pin="1234", new_pin="5678")),
    ],
)
def test_commands_parse(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("BAL", "start with your SMS PIN"),
        ("1234", "a command must follow"),
        ("1234 FLY", "unknown command"),
        ("1234 BAL 5", "takes nothing"),
        ("1234 PIN 5678 5679", "the same twice"),
        ("1234 PIN 56 56", "4 to 6 digits"),
        ("1234 ELEC 123 50", "not a meter number"),
        ("1234 ELEC 04100000019 lots", "not an amount"),
        ("1234 BUY", "BUY <product>"),
    ],
)
def test_malformed_commands_say_what_is_expected(text: str, says: str) -> None:
    with pytest.raises(CommandError, match=says):
        parse(text)


def test_the_canonical_form_never_holds_a_pin() -> None:
    command = parse("9876 PIN 5555 5555")
    assert "9876" not in command.canonical() and "5555" not in command.canonical()
    assert "9876" not in repr(parse("9876 BAL"))


def test_gsm7_fits_160_and_extension_characters_count_twice() -> None:
    assert split("a" * 160) == [("a" * 160, GSM7)]
    assert length("€") == 2 and coding_of("{x}") == GSM7
    assert len(split("€" * 80)) == 1
    parts = split("€" * 81)
    assert len(parts) == 2 and all(length(p) <= 153 for p, _ in parts)


def test_non_gsm_text_goes_as_ucs2_in_70_units() -> None:
    assert coding_of("ça va") == UCS2 and coding_of("Ça va") == GSM7
    assert split("ç" * 70) == [("ç" * 70, UCS2)]
    parts = split("ç" * 71)
    assert [len(p) for p, _ in parts] == [67, 4] and {c for _, c in parts} == {UCS2}


def test_long_replies_split_at_spaces() -> None:
    text = " ".join(["word"] * 60)  # 299 characters
    parts = split(text)
    assert len(parts) == 2
    assert all(not p.startswith(" ") and not p.endswith(" ") for p, _ in parts)
    assert " ".join(p for p, _ in parts) == text


@given(st.text(alphabet=st.sampled_from("ab €ç😀{"), max_size=400))
def test_splitting_keeps_every_character_and_every_part_fits(text: str) -> None:
    parts = split(text)
    for part, coding in parts:
        limit = 160 if coding == GSM7 and len(parts) == 1 else 153
        if coding == UCS2:
            limit = 70 if len(parts) == 1 else 67
        assert length(part) <= limit or coding_of(part) != coding
    assert "".join(p for p, _ in parts).replace(" ", "") == text.replace(" ", "")


def test_recharge_command() -> None:
    assert parse("4321 RCH 9810012340 199") == Command(
        "recharge", pin="4321", target="9810012340", amount="199"
    )
    assert parse("4321 topup +919810012340 10,50").target == "+919810012340"
    with pytest.raises(CommandError, match="RCH <mobile number or DTH id> <amount>"):
        parse("4321 RCH 98100")


def test_every_alias_names_one_command() -> None:
    aliases = [alias for names in KEYWORDS.values() for alias in names]
    assert len(aliases) == len(set(aliases)), "an alias may not open two commands"
