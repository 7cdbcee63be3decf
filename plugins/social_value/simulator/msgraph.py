"""Simulator routes for msgraph (see simulator/api.py)."""

ROUTES: list = []
