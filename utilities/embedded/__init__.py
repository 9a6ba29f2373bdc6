"""The embedded backend: our STS engine and meter registry, as transaction functions.

Every method is a transaction function (``fn(txn, ...)``, run by the service through a
:class:`~utilities.interface.TxnRunner`): it may run more than once, writes only through
``txn`` (meter SQL lives in :mod:`utilities.registry`), and raises a domain error (rolling
everything back, the request claim included) for bad input. State-changing operations go
through :func:`vending.services.idempotency.run_once`: claim the request key, re-check the
principal, do the work, render the answer and store it, in one transaction; a retry of the
same request gets the stored answer back.

One module per operation family: ``vend`` (credit vends, trials, meter details),
``free_tokens`` (FBE, free issue, credit transfer), ``key_change``, ``engineering``,
``verification``, ``account_payments``; ``base`` holds what they share. Demo behaviours are
not here: :mod:`utilities.demo_behaviours` wraps the service in the demo configuration.
"""

from __future__ import annotations

from utilities.embedded.account_payments import AccountPayments
from utilities.embedded.base import TEST_CONTROL_BITS, TRIAL_TOKEN, EmbeddedSettings
from utilities.embedded.engineering import Engineering
from utilities.embedded.free_tokens import FreeTokens
from utilities.embedded.key_change import KeyChanges
from utilities.embedded.vend import Vending
from utilities.embedded.verification import Verification
from utilities.errors import UnknownMeter


class EmbeddedBackend(Vending, FreeTokens, KeyChanges, Engineering, Verification, AccountPayments):
    """Every operation of our own engine (see the module docstring)."""


__all__ = [
    "TEST_CONTROL_BITS",
    "TRIAL_TOKEN",
    "EmbeddedBackend",
    "EmbeddedSettings",
    "UnknownMeter",
]
