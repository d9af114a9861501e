"""Thin routes: each gets the shared state, calls one method, wraps the result."""

from fastapi import Request

from api.state import ServerState


def server(request: Request) -> ServerState:
    return request.app.state.foldrag
