"""Moved to ``engine.seed_record`` (``kinflow bench-seed`` needs it); kept for old imports."""

from engine.seed_record import ORDER, TASKS, Rows, seed_record

__all__ = ["ORDER", "TASKS", "Rows", "seed_record"]
