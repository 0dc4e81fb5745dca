"""Missed billing pages, one module per concern."""

from .actions import apply, detail, ignore, recheck, reopen, review, snooze
from .bulk import bulk_preview, bulk_progress_view, bulk_resume
from .notifications import notification_list, notification_open, notification_read_all
from .queue import queue

__all__ = [
    "apply",
    "bulk_preview",
    "bulk_progress_view",
    "bulk_resume",
    "detail",
    "ignore",
    "notification_list",
    "notification_open",
    "notification_read_all",
    "queue",
    "recheck",
    "reopen",
    "review",
    "snooze",
]
