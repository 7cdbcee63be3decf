"""Simulator file drops for qualtrics (see simulator/drops.py)."""

DROPS: dict = {}
