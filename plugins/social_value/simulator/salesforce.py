"""Simulator routes for salesforce (see simulator/api.py)."""

ROUTES: list = []
