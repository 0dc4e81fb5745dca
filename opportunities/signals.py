"""Signals between the detection engine and the rest of missed billing."""

from django.dispatch import Signal

# Sent (inside the run's transaction; receivers should use transaction.on_commit for
# anything slow) when a detection run finishes successfully.
# kwargs: run (DetectionRun), created_ids (list[int]) — opportunities new in this run,
# reopened_ids (list[int]) — reviewed/snoozed items that came back to the open queue.
detection_finished = Signal()
