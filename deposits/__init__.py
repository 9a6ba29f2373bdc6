"""Money in: merchants' bank deposits recognised from the bank's SMS and e-mail alerts.

Per-bank templates (:mod:`deposits.templates`) turn an alert into a parsed credit; the
intake (:mod:`deposits.intake_txn`) checks where it came from, dedupes it on (bank, bank
reference), matches it to a merchant (:mod:`deposits.matching`) and posts one balanced
transfer with the deposit fee as its own leg, or parks it in suspense and the manual queue
(:mod:`deposits.queue`). The package owns its tables (:mod:`deposits.tables`); channel
adapters (the IMAP reader, the Kannel SMS endpoint) live in :mod:`deposits.intake` and call
the application service ``vending.services.deposits``.
"""
