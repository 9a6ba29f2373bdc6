"""Other adapters' resources in the XMLVend server's Site (same process, same port): the
JSON API at ``/api``, later the admin suite. ``evd serve`` mounts what the ``evd.web``
entry points give it; xmlvend never imports those adapters.

The XMLVend resource is a leaf answering every path itself (``/xmlvend``, ``/healthz``,
``/metrics``); :class:`MountingRoot` sends a request whose first path segment is mounted to
that resource and every other request to the XMLVend leaf as before."""

from __future__ import annotations

from typing import Any

from twisted.web.resource import IResource, Resource


class MountingRoot(Resource):
    def __init__(self, default: IResource) -> None:
        super().__init__()
        self.default = default
        self.mounts: dict[bytes, IResource] = {}

    def getChildWithDefault(self, path: bytes, request: Any) -> IResource:
        mounted = self.mounts.get(path)
        if mounted is not None:
            return mounted
        # Not ours: the XMLVend leaf answers, on the whole path as it came.
        request.postpath.insert(0, request.prepath.pop())
        return self.default

    def render(self, request: Any) -> Any:  # "/" itself
        return self.default.render(request)


def mount(site: Any, segment: bytes, resource: IResource) -> None:
    """Serve ``resource`` for every path under ``/segment`` in ``site``."""
    root = site.resource
    if not isinstance(root, MountingRoot):
        root = MountingRoot(root)
        site.resource = root
    root.mounts[segment] = resource


def web_adapters() -> list[Any]:
    """The adapters registered under the ``evd.web`` entry point group. Each is a module
    (or object) with ``build_for_serve(app, *, reactor, background) -> built`` (``built``
    has ``segment``, ``resource`` and ``stop() -> Deferred``) and ``banner_lines(base_url,
    curl_options)``. Loaded by name, so xmlvend never imports them."""
    from importlib.metadata import entry_points

    return [ep.load() for ep in sorted(entry_points(group="evd.web"), key=lambda e: e.name)]
