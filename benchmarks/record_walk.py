"""Moved to ``engine.seed_walk`` (``kinflow bench-seed`` needs it); kept for old imports."""

from engine.seed_walk import add_family

__all__ = ["add_family"]
