"""Errors of the voucher stock. Messages name lines, serials and products, never PINs."""

from __future__ import annotations

from collections.abc import Sequence

from vending.errors import InvalidRequest, InvalidState, NotFound
from vending.vouchers.stockfile import LineProblem


class UnknownSupplier(NotFound):
    """No such voucher supplier."""

    code = "unknown_supplier"


class UnknownVoucher(NotFound):
    """No such voucher."""

    code = "unknown_voucher"


class VoucherStateError(InvalidState):
    """The voucher is not in a state that allows this."""

    code = "voucher_state"


class AlreadyImported(InvalidRequest):
    """This stock file was imported before."""

    code = "already_imported"


class StockFileRejected(InvalidRequest):
    """The stock file has bad lines; nothing was imported."""

    code = "stock_file_rejected"

    def __init__(self, problems: Sequence[LineProblem]) -> None:
        self.problems = sorted(problems)
        count = len(self.problems)
        first = f"; first: {self.problems[0]}" if self.problems else ""
        super().__init__(
            f"stock file refused, nothing imported: {count} bad line{'s' * (count != 1)}{first}"
        )
