"""Simulator file drops for slack (see simulator/drops.py)."""

DROPS: dict = {}
