"""The vending core: money, accounts, double-entry ledger, products, sales, idempotency and
storage. No XML and no Twisted here; protocols and channels call into this package."""
