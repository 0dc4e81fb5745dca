"""Writes for missed billing, one module per concern:

- ``detection``: reconciliation runs that create, update and resolve opportunities;
- ``rules``: mapping rules; ``imports``: CSV imports of the source snapshots;
- ``actions``: snooze, ignore, review, apply; ``bulk``: bulk apply; ``notifications``.
"""
