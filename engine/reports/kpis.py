"""The managers' dashboard measures (issue 7), read from the relational record only.

Each lives in the module named for what it measures, registered with ``@measure`` on import:

- ``flow``: referrals and screening, declines by reason, timeliness, pre-proceedings (PLO);
- ``delivery``: conferences and plans, reviews, support packages, cases stepped up;
- ``workload``: open caseload per coordinator and overdue tasks (snapshots now);
- ``outcome_measures``: outcomes by problem and families turned around.

Period semantics: something is counted in the period it happened (London days, both ends
included; ``engine/reports/scope.py``), except the two snapshots, which describe now.
"""

from engine.reports import delivery, flow, outcome_measures, workload

__all__ = ["delivery", "flow", "outcome_measures", "workload"]
