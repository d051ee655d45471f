"""The one way a portal attaches its routes: each blueprint package lists them in a table of
(rule, endpoint, view, methods) and hands it to `add_routes`."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Blueprint

GET, POST, FORM = ("GET",), ("POST",), ("GET", "POST")
Route = tuple[str, str, Callable, tuple[str, ...]]


def add_routes(bp: Blueprint, routes: Iterable[Route]) -> None:
    """Attach every (rule, endpoint, view, methods) of the table to the blueprint."""
    for rule, endpoint, view, methods in routes:
        bp.add_url_rule(rule, endpoint, view, methods=list(methods))
