"""Missed billing's models, one module per concern; every name is importable from here."""

from .queue import (
    QUEUE_ORDER,
    SEVERITY_RANK,
    BulkApply,
    BulkApplyItem,
    BulkApplyStatus,
    BulkItemState,
    Notification,
    Opportunity,
    OpportunityEvent,
    OpportunityKind,
    OpportunityState,
    PlanAction,
    SelectedItem,
    Severity,
    figures_signature,
)
from .rules import DetectionSettings, MappingRule, RuleKind
from .runs import DetectionChunk, DetectionRun, ImportSource, SourceImport
from .sources import Device, DeviceType, Subscription, SubscriptionStatus

__all__ = [
    "QUEUE_ORDER",
    "SEVERITY_RANK",
    "BulkApply",
    "BulkApplyItem",
    "BulkApplyStatus",
    "BulkItemState",
    "DetectionChunk",
    "DetectionRun",
    "DetectionSettings",
    "Device",
    "DeviceType",
    "ImportSource",
    "MappingRule",
    "Notification",
    "Opportunity",
    "OpportunityEvent",
    "OpportunityKind",
    "OpportunityState",
    "PlanAction",
    "RuleKind",
    "SelectedItem",
    "Severity",
    "SourceImport",
    "Subscription",
    "SubscriptionStatus",
    "figures_signature",
]
