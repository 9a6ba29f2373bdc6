"""The admin suite's frame: a Klein app whose every page goes through :meth:`AdminUI.page`
(security headers, the session and its login stage, CSRF on every POST, the page's
permission, errors as pages), Jinja2 templates with autoescape, and the navigation the base
layout draws from the registered screens. A screen is a module with ``register(ui)``
(docs/ADMIN.md, "Adding a screen")."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jinja2
from klein import Klein
from twisted.internet.defer import ensureDeferred
from twisted.web.resource import Resource

from admin import security
from admin.services import AdminServices
from admin.uploads import UploadedFile, parse_multipart
from staff.roles import Forbidden
from vending.errors import InvalidRequest, NotFound, VendingError
from vending.login_throttle import LoginThrottled
from vending.money import Money
from vending.services.staff import LoginRefused, NoSession, SessionView

log = logging.getLogger(__name__)

PREFIX = "/admin"
HERE = Path(__file__).resolve().parent
MAX_FIELD = 4000
MAX_FORM_BYTES = 64 * 1024

# Where a session at each stage of its login belongs.
STAGE_PAGES = {"password": "/login/code", "enrol": "/login/enrol", "change": "/password"}


@dataclass(frozen=True)
class NavItem:
    """An entry of the navigation: shown to users holding ``permission`` (None: everyone
    signed in); ``section`` groups entries, ``order`` sorts them."""

    label: str
    path: str
    permission: str | None = None
    section: str = "Operations"
    order: int = 100


@dataclass
class Page:
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200


@dataclass(frozen=True)
class Redirect:
    path: str  # under /admin


@dataclass
class Ctx:
    """One request as a page handler sees it."""

    request: Any
    ui: AdminUI
    view: SessionView | None
    form: dict[str, str]
    query: dict[str, str]
    # The files of a multipart/form-data POST, by field name.
    files: dict[str, UploadedFile] = field(default_factory=dict)

    @property
    def services(self) -> AdminServices:
        return self.ui.services

    @property
    def user(self) -> Any:
        assert self.view is not None
        return self.view.user

    @property
    def address(self) -> str:
        peer = self.request.getClientAddress()
        return str(getattr(peer, "host", "") or "")

    @property
    def user_agent(self) -> str:
        return (self.request.getHeader(b"user-agent") or b"").decode("latin-1")[:200]

    def field(self, name: str, default: str = "") -> str:
        return self.form.get(name, default).strip()

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, default).strip()

    def session_id(self) -> str:
        raw = self.request.getCookie(security.SESSION_COOKIE) or b""
        return raw.decode("ascii", "replace")


Handler = Callable[..., Awaitable[Page | Redirect | bytes]]


def _decode(values: dict[bytes, list[bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, items in values.items():
        if items:
            out[key.decode("utf-8", "replace")] = items[-1].decode("utf-8", "replace")[:MAX_FIELD]
    return out


def _form(request: Any) -> dict[str, str]:
    """An URL-encoded form body (the server's Site leaves bodies unparsed, for XMLVend)."""
    ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if ctype != b"application/x-www-form-urlencoded":
        return {}
    request.content.seek(0)
    body = request.content.read(MAX_FORM_BYTES + 1)
    if len(body) > MAX_FORM_BYTES:
        return {}
    return _decode(parse_qs(body, keep_blank_values=True))


def _is_multipart(request: Any) -> bool:
    ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    return ctype == b"multipart/form-data"


def _money(value: Money | None) -> str:
    return "" if value is None else f"{value} "


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


class AdminUI:
    def __init__(
        self,
        services: AdminServices,
        *,
        secure_cookies: bool = True,
        template_dirs: tuple[Path, ...] = (),
    ) -> None:
        self.services = services
        self.secure_cookies = secure_cookies
        self.klein = Klein()
        self.nav: list[NavItem] = []
        loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(str(d)) for d in template_dirs]
        loaders.append(jinja2.FileSystemLoader(str(HERE / "templates")))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            # Every {{ }} is HTML-escaped; templates never use |safe on data.
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["money"] = _money
        self.env.filters["when"] = _when
        self.env.globals["url"] = self.url

    # --- building ---

    def url(self, path: str, **params: Any) -> str:
        query = {k: v for k, v in params.items() if v not in (None, "")}
        return PREFIX + path + (("?" + urlencode(query)) if query else "")

    def add_nav(self, item: NavItem) -> None:
        self.nav.append(item)
        self.nav.sort(key=lambda i: (i.order, i.label))

    def page(
        self,
        path: str,
        *,
        methods: tuple[str, ...] = ("GET",),
        permission: str | None = None,
        stage: str | None = "active",
        nav: NavItem | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register a page handler ``async (ctx, **url_params) -> Page | Redirect | bytes``.

        ``stage``: the login stage the session must be at (None: no session needed, the
        login pages); ``permission``: refused 403 (and audited) without it; every POST is
        refused 403 without a valid CSRF token."""

        def decorate(handler: Handler) -> Handler:
            def endpoint(request: Any, **params: Any) -> Any:
                return ensureDeferred(self._serve(request, handler, permission, stage, params))

            endpoint.__name__ = f"{handler.__module__}.{handler.__name__}:{path}"
            self.klein.route(path, methods=list(methods), endpoint=endpoint.__name__)(endpoint)
            if nav is not None:
                self.add_nav(nav)
            return handler

        return decorate

    def resource(self) -> Resource:
        return AdminResource(self)

    # --- serving ---

    async def _serve(
        self,
        request: Any,
        handler: Handler,
        permission: str | None,
        stage: str | None,
        params: dict[str, Any],
    ) -> bytes:
        security.apply_headers(request)
        post = request.method == b"POST"
        query = _decode(getattr(request, "args", {}) or {})
        ctx = Ctx(request, self, None, _form(request) if post else {}, query)
        if post and _is_multipart(request):
            ctx.form, ctx.files = parse_multipart(request)
        try:
            session_id = ctx.session_id()
            ctx.view = await self.services.access.session(session_id) if session_id else None
            if stage is not None:
                if ctx.view is None:
                    return self._redirect(request, "/login")
                if ctx.view.stage != stage:
                    return self._redirect(request, STAGE_PAGES.get(ctx.view.stage, "/"))
            if post and not self._csrf_ok(ctx):
                if ctx.view is not None:  # a signed-in user's browser sent a forged form
                    await self.services.access.record_refusal(
                        ctx.view.user,
                        "form",
                        request.path.decode("utf-8", "replace")[:120],
                        "missing or wrong CSRF token",
                    )
                return self._error(
                    ctx,
                    403,
                    "This form has expired or did not come from this "
                    "site. Reload the page and try again.",
                )
            if permission is not None:
                assert ctx.view is not None, "a permission needs a session"
                await self.services.access.require(
                    ctx.view.user, permission, request.path.decode("utf-8", "replace")[:120]
                )
            result = await handler(ctx, **params)
        except Forbidden as exc:
            return self._error(ctx, 403, exc.message)
        except NoSession:
            return self._redirect(request, "/login")
        except LoginThrottled as exc:
            request.setHeader(b"Retry-After", str(exc.retry_after).encode())
            return self._error(ctx, 429, exc.message)
        except LoginRefused as exc:
            return self._error(ctx, 401, exc.message)
        except NotFound as exc:
            return self._error(ctx, 404, exc.message)
        except (InvalidRequest, VendingError) as exc:
            # The hashing pool's queue is full (xmlvend's LoginBusy): busy, not bad input.
            return self._error(ctx, 503 if exc.code == "login_busy" else 400, exc.message)
        except Exception:
            # Logged with its traceback; the browser learns nothing of the internals.
            log.exception("admin page %s failed", request.path.decode("utf-8", "replace"))
            return self._error(ctx, 500, "Something went wrong; it was logged.")
        if isinstance(result, Redirect):
            return self._redirect(request, result.path)
        if isinstance(result, Page):
            request.setResponseCode(result.status)
            return self.render(ctx, result.template, **result.context)
        return result

    def _csrf_ok(self, ctx: Ctx) -> bool:
        given = ctx.form.get("csrf")
        if ctx.view is not None:
            return security.same_token(given, ctx.view.csrf_token)
        pre = (ctx.request.getCookie(security.PRE_COOKIE) or b"").decode("ascii", "replace")
        return security.same_token(given, pre)

    def pre_token(self, ctx: Ctx) -> str:
        """The signed-out forms' CSRF token (the ``evd_admin_pre`` cookie, set if missing)."""
        token = (ctx.request.getCookie(security.PRE_COOKIE) or b"").decode("ascii", "replace")
        if len(token) < 32:
            token = security.new_token()
            security.set_cookie(ctx.request, security.PRE_COOKIE, token, secure=self.secure_cookies)
        return token

    def start_session(self, ctx: Ctx, session_id: str) -> None:
        security.set_cookie(
            ctx.request, security.SESSION_COOKIE, session_id, secure=self.secure_cookies
        )

    def end_session(self, ctx: Ctx) -> None:
        security.clear_cookie(ctx.request, security.SESSION_COOKIE, secure=self.secure_cookies)

    def _redirect(self, request: Any, path: str) -> bytes:
        request.setResponseCode(303)
        request.setHeader(b"Location", (PREFIX + path).encode("utf-8"))
        return b""

    def _error(self, ctx: Ctx, status: int, message: str) -> bytes:
        ctx.request.setResponseCode(status)
        titles = {
            400: "Not done",
            401: "Not signed in",
            403: "Forbidden",
            404: "Not found",
            429: "Too many attempts",
            503: "Busy",
        }
        return self.render(
            ctx, "error.html", status=status, title=titles.get(status, "Error"), message=message
        )

    def render(self, ctx: Ctx, template: str, **context: Any) -> bytes:
        view = ctx.view
        signed_in = view is not None and view.stage == "active"
        user = view.user if signed_in and view is not None else None
        nav = [
            i
            for i in self.nav
            if user is not None and (i.permission is None or user.can(i.permission))
        ]
        sections: dict[str, list[NavItem]] = {}
        for item in nav:
            sections.setdefault(item.section, []).append(item)
        csrf = view.csrf_token if view is not None else self.pre_token(ctx)
        ctx.request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        page = self.env.get_template(template).render(
            user=user,
            nav=sections,
            csrf=csrf,
            current=ctx.request.path.decode("utf-8", "replace"),
            **context,
        )
        return page.encode("utf-8")


class AdminResource(Resource):
    """``/admin``: the static files under ``/admin/static/``, every other path to Klein."""

    isLeaf = False

    def __init__(self, ui: AdminUI) -> None:
        super().__init__()
        self.ui = ui
        self.pages = HeadedPages(ui.klein.resource())
        self.putChild(b"static", StaticFiles(HERE / "static"))

    def getChildWithDefault(self, path: bytes, request: Any) -> Any:
        if path in self.children:
            return self.children[path]
        # A page: Klein routes on the whole rest of the path.
        request.postpath.insert(0, request.prepath.pop())
        return self.pages

    def render(self, request: Any) -> Any:  # "/admin" itself
        return self.pages.render(request)


class HeadedPages(Resource):
    """Klein's resource with the security headers on every answer, its own 404 and 405
    pages included."""

    isLeaf = True

    def __init__(self, pages: Resource) -> None:
        super().__init__()
        self.inner = pages

    def render(self, request: Any) -> Any:
        security.apply_headers(request)
        return self.inner.render(request)


class StaticFiles(Resource):
    """Our own CSS/JS files (read once at start): nothing else is reachable under
    ``/admin/static`` -- no directory listing, no path outside the folder."""

    isLeaf = True
    TYPES = {
        ".css": b"text/css; charset=utf-8",
        ".js": b"text/javascript; charset=utf-8",
        ".svg": b"image/svg+xml",
        ".png": b"image/png",
        ".json": b"application/json",
    }

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.files = {
            path.name.encode(): (self.TYPES[path.suffix], path.read_bytes())
            for path in sorted(folder.iterdir())
            if path.is_file() and path.suffix in self.TYPES
        }

    def render_GET(self, request: Any) -> bytes:
        security.apply_headers(request, cache=True)
        found = self.files.get(b"/".join(request.postpath))
        if found is None:
            request.setResponseCode(404)
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return b"not found\n"
        request.setHeader(b"Content-Type", found[0])
        request.setHeader(b"Cache-Control", b"public, max-age=3600")
        return found[1]
