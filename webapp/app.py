"""The phone web app assembled for ``evd serve`` (the ``evd.web`` entry point): its
resource mounted at ``/app`` beside ``/api``, same process and port. The app itself talks
only to the JSON API over HTTP, as any third-party app does; this module wires nothing of
the application's services into it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, succeed

from webapp import shell
from webapp.resource import AppResource

SEGMENT = b"app"


@dataclass
class AppMount:
    resource: AppResource
    segment: bytes = SEGMENT

    def stop(self) -> Deferred:
        return succeed(None)


def build_app_resource() -> AppResource:
    return AppResource(shell.load())


def build_for_serve(app: Any, *, reactor: Any, background: bool = True) -> AppMount:
    return AppMount(build_app_resource())


def banner_lines(base_url: str, curl_options: str = "") -> list[str]:
    """``evd serve``'s banner: where the phone app is and the demo logins (demo only)."""
    from vending.api_demo import DEMO_CONSUMER
    from vending.demo import DEMO_VENDORS

    msisdn, _name, pin = DEMO_CONSUMER
    cafe = DEMO_VENDORS[0]
    return [
        f"Phone app {base_url}/app/  (open on a phone or a narrow window; installable)",
        f"  demo consumer {msisdn} PIN {pin}; demo merchant {cafe.client_id} "
        f"{cafe.operator}/{cafe.password} (demo data only)",
        "",
    ]
