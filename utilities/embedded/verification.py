"""Token verification (verifyReq): the facts of a token we issued."""

from __future__ import annotations

from decimal import Decimal

from utilities.embedded.base import (
    KWH,
    EmbeddedBase,
)
from utilities.engine import token_hash
from utilities.errors import (
    TokenNotVerifiable,
)
from utilities.interface import (
    MeterQuery,
    TokenInfo,
    VerifyResult,
)
from utilities.registry import (
    get_meter,
    issued_token,
)
from utilities.sts.digits import parse_digits
from utilities.sts.errors import TokenFormatError
from vending.auth import Principal, revalidate
from vending.money import Money
from vending.storage.database import Txn


class Verification(EmbeddedBase):
    def verify_token(
        self, txn: Txn, principal: Principal, query: MeterQuery, token: str
    ) -> VerifyResult:
        revalidate(txn, principal)
        meter = get_meter(txn, query.msno)
        try:
            digits = f"{parse_digits(token):020d}"
        except TokenFormatError:
            raise TokenNotVerifiable("not a 20-digit STS token") from None
        row = issued_token(txn, meter.id, token_hash(digits))
        if row is None:
            raise TokenNotVerifiable(f"token was not issued by this server for meter {meter.msno}")
        details = dict(row.details or {})
        currency = details.get("currency")
        units = None
        if row.token_class == 0 and row.amount is not None:
            units = Decimal(row.amount) * KWH
        info = TokenInfo(
            token=digits,
            token_class=row.token_class,
            subclass=row.subclass,
            tid=row.tid or 0,
            transfer_amount=units if units is not None else Decimal(row.amount or 0),
            issued_at=row.issued_at,
        )

        def money(key: str) -> Money | None:
            value = details.get(key)
            return None if value is None or currency is None else Money(int(value), currency)

        rate = details.get("vat_rate_bp")
        return VerifyResult(
            meter=self.meter_info(txn, meter),
            token_info=info,
            kind=row.kind,
            units=units,
            credit=money("credit"),
            credit_tax=money("credit_tax"),
            tax_rate=None if rate is None else Decimal(int(rate)) / 100,
            tariff_name=details.get("tariff"),
            receipt_no=details.get("receipt_no"),
        )
