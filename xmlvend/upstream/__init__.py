"""The outbound XMLVend client to a utility's own vending server: the XMLVend adapter that
implements the utility side's backend interface for routed meters (``backend``), and the
messages it exchanges (``messages``). Injected at wiring by the process composer
(``evd serve``: :func:`upstream_backend`); its storage is :mod:`utilities.routed_sales`."""

from __future__ import annotations

from typing import Any


def upstream_backend(*args: Any, **kwargs: Any) -> Any:
    """The wiring's ``upstream_factory``: an UpstreamBackend for a configured route."""
    from xmlvend.upstream.backend import UpstreamBackend

    return UpstreamBackend.from_config(*args, **kwargs)


__all__ = ["upstream_backend"]
