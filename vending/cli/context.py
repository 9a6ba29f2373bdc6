"""Shared state of one ``evd`` invocation: the configuration, the clock (the only place a
command gets the time from) and, lazily, the database and the keyring; :meth:`Context.run`
runs a transaction with domain errors turned into clean command errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from vending.clock import Clock, system_clock
from vending.config import Config, load_config

if TYPE_CHECKING:
    from vending.keyring import Keyring
    from vending.storage.database import Database, Txn

P = ParamSpec("P")
T = TypeVar("T")


class CommandError(Exception):
    """A command failed in a way the user can fix; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Context:
    def __init__(
        self,
        config_path: str | None = None,
        config: Config | None = None,
        *,
        clock: Clock = system_clock,
    ) -> None:
        self._config_path = config_path
        self._config = config
        self._database: Database | None = None
        self.clock = clock

    def now(self) -> datetime:
        """The command's time, for everything it stamps."""
        return self.clock()

    @cached_property
    def config(self) -> Config:
        return self._config if self._config is not None else load_config(self._config_path)

    @property
    def database(self) -> Database:
        if self._database is None:
            from vending.storage.database import Database

            self._database = Database.from_config(self.config)
        return self._database

    @cached_property
    def keyring(self) -> Keyring:
        """The keyring under the configured master key (a CommandError when there is none)."""
        from vending.keyring import Keyring, KeyringError, load_master_key

        try:
            return Keyring(load_master_key(self.config), clock=self.clock)
        except KeyringError as exc:
            raise CommandError(str(exc)) from exc

    def run(
        self, desc: str, fn: Callable[Concatenate[Txn, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run a transaction function; domain and key errors end the command cleanly."""
        from vending.errors import VendingError
        from vending.keyring import KeyringError

        try:
            return self.database.run_txn(desc, fn, *args, **kwargs)
        except VendingError as exc:
            raise CommandError(exc.message) from exc
        except KeyringError as exc:
            raise CommandError(str(exc)) from exc

    def close(self) -> None:
        if self._database is not None:
            self._database.close()
            self._database = None
