"""Utilities: the STS token engine, meter registry, tariffs, vending keys, and the utility
backends (embedded engine, upstream XMLVend server, simulated utility)."""
