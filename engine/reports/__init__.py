"""Reports on the relational record: the managers' dashboard, claims, extracts, subject access.

Every figure is read from the indexed tables the engine writes in the same transaction as the
work (``engine/record``, ``human_tasks``, ``stage_visits``), never from workflow state.
"""
