"""Thin routes: each gets the shared state, calls one method, wraps the result."""

from fastapi import Request

from foldrag.api.guard import COLLECTIONS
from foldrag.api.state import ServerState


def server(request: Request) -> ServerState:
    """The shared state, as the request's key sees it: a key of some collections only
    (``server.collection_keys``) sees only those."""
    state: ServerState = request.app.state.foldrag
    reach = request.scope.get("state", {}).get(COLLECTIONS)
    return state if reach is None else state.within(reach)
