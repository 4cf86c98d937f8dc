"""The rules that decide outcome payments and eligibility, in plain Python.

Standard library only: the platform runs these functions on its data, and an
auditor runs the same functions on an exported file
(``python -m prevention_engine recompute INPUT.json``) without the platform,
its database or its secrets. Every rule is defined once, here.
"""

__version__ = "2.0.0"
