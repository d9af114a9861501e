"""What a local server checks before any route runs — and before any body is read — because the web
pages its user visits can send it requests:

1. **Host** (DNS rebinding): a server bound to a loopback address answers only to loopback names,
   its bound address and ``server.allowed_hosts``.
2. **Origin** of a browser's write: a request that is not GET/HEAD/OPTIONS and carries an ``Origin``
   other than this server's own or one of ``server.cors_origins`` is refused (a no-cors form POST
   from another page carries one).
3. **Key and scope**: with keys configured, every route but the public ones needs a bearer key;
   ``server.query_keys`` reach only the question routes (the widget's key is public, being in a
   web page), ``server.api_keys`` reach everything. Keys under ``server.collection_keys.NAME`` have
   the same two scopes within their collections only: the guard puts the collections a request may
   reach in ``scope["state"]["foldrag.collections"]``, and the routes see only those
   (``api.routes.server``); server-wide routes (``/metrics``) need a server-wide admin key.

Responses get security headers; the chat page a content security policy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from foldrag.api.auth import key_is_valid
from foldrag.api.errors import error_body
from foldrag.core.errors import ERROR_TABLE
from foldrag.core.settings import ServerSettings

PUBLIC = frozenset({"/healthz", "/readyz", "/", "/chat", "/chat.js", "/widget.js", "/docs", "/redoc", "/openapi.json",
                    "/docs/oauth2-redirect"})
PUBLIC_PREFIX = "/app/"  # the web app's static files: they hold no data; what they call needs a key
PAGES = frozenset({"/", "/chat", "/chat.js", "/widget.js"})  # served with the content security policy
MCP_PATH = "/mcp"  # the Model Context Protocol endpoint (streamable HTTP): its tools only read
# (method, path or prefix ending in "/") a query key may call: questions, the sources they cite,
# the key's own conversations, the MCP tools; never a change to a collection.
QUERY_ROUTES = (("POST", MCP_PATH), ("GET", MCP_PATH), ("DELETE", MCP_PATH),
                ("POST", "/v1/query"), ("POST", "/v1/retrieve"), ("POST", "/v1/chat/completions"),
                ("GET", "/v1/models"), ("GET", "/v1/collections"), ("GET", "/v1/passages/"),
                ("GET", "/v1/documents"), ("GET", "/v1/documents/"), ("GET", "/v1/inventory"),
                ("GET", "/v1/conversations"), ("POST", "/v1/conversations"), ("GET", "/v1/conversations/"),
                ("PATCH", "/v1/conversations/"), ("DELETE", "/v1/conversations/"))
# Routes about the whole server, not one collection: a collection's keys never reach them.
SERVER_ROUTES = (("GET", "/metrics"), ("POST", "/v1/collections"), ("DELETE", "/v1/collections/"))
COLLECTIONS = "foldrag.collections"  # the scope["state"] entry: the collections a request may reach
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})

HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


def host_name(host: str) -> str:
    """``host`` without its port; an IPv6 address without brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class GuardMiddleware:
    def __init__(self, app, settings: ServerSettings) -> None:
        self.app = app
        self.settings = settings
        bound = host_name(settings.host)
        names = {host_name(h) for h in settings.allowed_hosts}
        # A wildcard bind serves other machines by names foldrag cannot know: then only the
        # configured names are checked, when there are any.
        if bound in WILDCARDS:
            self.hosts: frozenset[str] | None = frozenset(names | LOOPBACK_NAMES) if names else None
        else:
            self.hosts = frozenset(names | LOOPBACK_NAMES | {bound})
        self.origins = set(settings.cors_origins)
        self.admin_keys = list(settings.api_keys)
        self.query_keys = list(settings.query_keys)
        self.collection_keys = {name: (list(keys.api_keys), list(keys.query_keys))
                                for name, keys in settings.collection_keys.items()}
        frames = " ".join(settings.frame_ancestors) or "'none'"
        self.page_headers = [
            (b"content-security-policy", f"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob:; "
                                         f"connect-src 'self'; frame-ancestors {frames}".encode()),
            *([] if settings.frame_ancestors else [(b"x-frame-options", b"DENY")]),
        ]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is not None:
            await _respond(send, *refusal)
            return
        path = scope["path"]
        extra = self.page_headers if path in PAGES or path.startswith(PUBLIC_PREFIX) else []

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), *HEADERS, *extra])
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def refusal(self, scope) -> tuple[str, str, list[tuple[bytes, bytes]]] | None:
        """(error kind, message, headers) when the request is refused, else None."""
        headers = _headers(scope["headers"])
        method, path = scope["method"], scope["path"]
        host = host_name(headers.get("host", ""))
        if self.hosts is not None and host not in self.hosts:
            return ("forbidden", f"this server does not answer to host {host!r} (DNS rebinding protection); "
                    "add the name to server.allowed_hosts", [])
        origin = headers.get("origin")
        if method not in SAFE_METHODS and origin is not None and not self._origin_allowed(origin, scope, headers):
            return ("forbidden", f"cross-origin request from {origin!r} refused; add the origin to "
                    "server.cors_origins to allow it", [])
        if "\x00" in path:  # a NUL in a path value (/v1/passages/%00) names nothing: a 400, as in a body
            return ("invalid_input", "the request path holds a NUL character", [])
        if path in PUBLIC or path.startswith(PUBLIC_PREFIX) or method == "OPTIONS" or not (self.admin_keys or self.query_keys or self.collection_keys):
            return None
        authorization = headers.get("authorization")
        asks = _allowed(method, path, QUERY_ROUTES)
        # Every key is compared (in constant time) whichever matches, so timing tells nothing.
        admin = key_is_valid(authorization, self.admin_keys)
        query = key_is_valid(authorization, self.query_keys)
        admin_in = {name for name, (keys, _) in self.collection_keys.items() if key_is_valid(authorization, keys)}
        query_in = {name for name, (_, keys) in self.collection_keys.items() if key_is_valid(authorization, keys)}
        if admin or (query and asks):
            return None
        reach = admin_in | query_in if asks else admin_in
        if reach and not _allowed(method, path, SERVER_ROUTES):
            scope.setdefault("state", {})[COLLECTIONS] = frozenset(reach)
            return None
        if query or query_in:
            return ("forbidden", "this key may only ask questions (server.query_keys); this route needs an "
                    "admin key (server.api_keys)", [])
        if admin_in:
            return ("forbidden", "a collection's key does not reach server-wide routes; this one needs a key "
                    "of server.api_keys", [])
        return ("unauthorized", "a valid API key is required: send 'Authorization: Bearer KEY'",
                [(b"www-authenticate", b"Bearer")])

    def _origin_allowed(self, origin: str, scope, headers: dict[str, str]) -> bool:
        if origin in self.origins or "*" in self.origins:
            return True
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
        return origin != "null" and origin.lower() == own.lower()


def _allowed(method: str, path: str, routes: Iterable[tuple[str, str]]) -> bool:
    return any(method == m and (path == p or (p.endswith("/") and path.startswith(p))) for m, p in routes)


def _headers(raw) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}


async def _respond(send, kind: str, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps(error_body(kind, message)).encode()
    await send({"type": "http.response.start", "status": ERROR_TABLE[kind].http_status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers, *HEADERS]})
    await send({"type": "http.response.body", "body": body})
