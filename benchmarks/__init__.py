"""Speed measurements; ``make bench`` runs them all and records the figures."""
