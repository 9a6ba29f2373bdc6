"""Card payments: we are the acquirer's client over ISO 8583 (``pyiso8583`` for the
fields, a 2-byte big-endian length prefix for framing), and a public checkout for consumers
without an account. Translates and renders only; sales go through ``vending.services``."""
