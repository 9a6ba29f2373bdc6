"""STS token classes and subclasses (IEC 62055-41) <-> XMLVend ``b:TokenSubClassType``.

One table for both directions: the server renders a token's class in verifyResp, and the
upstream client reads the class back from a utility's verifyResp.
"""

from __future__ import annotations

from xmlvend.codec import types_base as b

# STS token class 0 (credit) subclasses -> b:CreditTokenSubClassType.
CREDIT_SUBCLASSES: dict[int, str] = {
    0: "Electricity Token",
    1: "Water Token",
    2: "Gas Token",
    3: "Connection time Token",
    4: "Currency Token",
}
# STS token class 2 (meter management) subclasses -> b:MeterSpecificEng. The four key
# change token subclasses share one name; reading it back gives the first (3).
MANAGEMENT_SUBCLASSES: dict[int, str] = {
    0: "SetPwrLmt",
    1: "ClearCred",
    3: "EngKCT",
    4: "EngKCT",
    5: "ClearTamper",
    6: "SetPhUnbalance",
    7: "SetWaterFact",
    8: "EngKCT",
    9: "EngKCT",
}
_CREDIT_SUBCLASS_OF = {name: subclass for subclass, name in reversed(CREDIT_SUBCLASSES.items())}
_MANAGEMENT_SUBCLASS_OF = {
    name: subclass for subclass, name in reversed(MANAGEMENT_SUBCLASSES.items())
}


def token_subclass_type(token_class: int, subclass: int) -> b.TokenSubClassType:
    """b:TokenSubClassType (an xs:choice) of an STS token's class and subclass."""
    if token_class == 0:
        return b.TokenSubClassType(credit=CREDIT_SUBCLASSES.get(subclass, "Electricity Token"))
    if token_class == 2:
        return b.TokenSubClassType(
            meter_management=MANAGEMENT_SUBCLASSES.get(subclass, "ClearCred")
        )
    return b.TokenSubClassType(non_meter_management="TestAll")


def token_class_of(kind: b.TokenSubClassType | None) -> tuple[int, int]:
    """(STS class, subclass) of a b:TokenSubClassType; a missing one is an electricity
    credit token, the only kind most servers issue."""
    if kind is None or kind.credit is not None:
        name = None if kind is None else kind.credit
        return 0, _CREDIT_SUBCLASS_OF.get(name or "", 0)
    if kind.meter_management is not None:
        return 2, _MANAGEMENT_SUBCLASS_OF.get(kind.meter_management, 1)
    return 1, 0
