"""The SMS channel: Kannel's MO callbacks in, MTs out through Kannel's sendsms with delivery
reports. Translates and renders only; every sale goes through ``vending.services``."""
