"""The USSD channel: the common gateway callback (form POST, ``CON``/``END`` replies).
Translates and renders only; every sale goes through ``vending.services``."""
