"""Voucher stock: suppliers, PGP-encrypted stock files, PINs encrypted at rest, exactly-once
PIN sales, stock alerts and reports.

Importing the package registers its tables on the shared metadata (``tables``).
"""

from vending.vouchers import tables as tables
