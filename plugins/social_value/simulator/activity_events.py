"""Simulator file drops for activity_events (see simulator/drops.py)."""

DROPS: dict = {}
