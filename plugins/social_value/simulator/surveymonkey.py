"""Simulator routes for surveymonkey (see simulator/api.py)."""

ROUTES: list = []
