"""Twisted adapters of the catalogue: provider clients (HTTP/JSON recharge, BBPS XML), the
sans-IO protocol codecs they share with the simulators, the reactor scheduler, the callback
web resource and the wiring that builds them from the provider registry. Injected by the
process composer; never imported by ``vending/`` or the catalogue's domain modules."""
