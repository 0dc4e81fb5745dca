"""Demo data for missed billing: the shipped sample exports, global mapping rules, then detection.

Loads ``sample_data/rmm_devices.csv`` (a NinjaOne-style RMM export: BOM, CRLF, "Organization"
names) and ``sample_data/distributor_subscriptions.csv`` (a Pax8-style export: semicolons,
company ids) through the real import service, adds the mapping rules an MSP would have
(device types and SKUs → products, lab and stale devices excluded, the retired plans of
``clients/demo.py`` migrating to their replacements) and runs detection, so the queue holds
believable opportunities of every kind.

Deterministic and idempotent: rules are keyed by what they match, a sample file is imported
only while no committed import of it exists, and detection runs only when something was
imported (or it never ran).
"""

import datetime as dt
from pathlib import Path

from django.db.models import F
from django.utils import timezone

from clients.dates import org_today
from clients.models import Client, Product

from .models import (
    DetectionRun,
    Device,
    ImportSource,
    MappingRule,
    Opportunity,
    OpportunityState,
    RuleKind,
    SourceImport,
)
from .services import actions
from .services.detection import run_detection
from .services.imports import import_path
from .services.notifications import recipients

SAMPLES = Path(__file__).resolve().parent / "sample_data"
SAMPLE_FILES = [
    (ImportSource.DEVICES, "rmm_devices.csv"),
    (ImportSource.SUBSCRIPTIONS, "distributor_subscriptions.csv"),
]
# The moment the sample RMM export was taken; its "last contact" times are moved to now on load.
SAMPLE_TAKEN_AT = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)

DEVICE_RULES = [
    # device type, hostname pattern, product SKU (None: exclusion), priority, not seen days, note
    ("", "LAB-*", None, 10, None, "Lab and test machines are not billed"),
    ("", "", None, 20, 45, "Devices silent for 45 days are treated as retired"),
    ("workstation", "", "MS-WS", 100, None, "Workstations bill as managed workstations"),
    ("server", "", "MS-SRV", 100, None, "Servers bill as managed servers"),
    ("network", "", "MS-NET", 100, None, "Firewalls, switches and access points"),
]
SKU_RULES = [
    ("CFQ7TTC0LCHC", "M365-BP"),
    ("CFQ7TTC0LDPB", "M365-BS"),
    ("CFQ7TTC0LFLX", "M365-E3"),
    ("CFQ7TTC0LH18", "M365-BB"),
    ("CFQ7TTC0LH16", "EXO-P1"),
    ("CFQ7TTC0HHS9", "DEF-EP"),
    ("PX-BKP-M365-U", "BKP-M365"),
    ("S1-CTRL-MSP", "EDR-S1"),
]
MIGRATIONS = [("MS-WS-LEGACY", "MS-WS"), ("MS-SRV-LEGACY", "MS-SRV"), ("O365-E1", "M365-BS")]
# A client-specific exclusion: Cobalt's CI build agents are theirs to run, not ours to bill.
CLIENT_EXCLUSIONS = [("Cobalt Software Studio", "BUILD-AGENT-*", "CI build agents, not managed")]


def _rules():
    products = {p.sku: p for p in Product.objects.all()}
    for device_type, pattern, sku, priority, not_seen, note in DEVICE_RULES:
        MappingRule.objects.get_or_create(
            kind=RuleKind.DEVICE,
            client=None,
            device_type=device_type,
            hostname_pattern=pattern,
            not_seen_days=not_seen,
            defaults={"product": products.get(sku), "exclude": sku is None, "priority": priority, "note": note},
        )
    for vendor_sku, sku in SKU_RULES:
        MappingRule.objects.get_or_create(
            kind=RuleKind.SUBSCRIPTION, client=None, vendor_sku=vendor_sku, defaults={"product": products[sku]}
        )
    for old, new in MIGRATIONS:
        MappingRule.objects.get_or_create(
            kind=RuleKind.MIGRATION,
            client=None,
            from_product=products[old],
            defaults={"product": products[new], "note": f"{products[old].name} is retired"},
        )
    for client_name, pattern, note in CLIENT_EXCLUSIONS:
        client = Client.objects.filter(name=client_name).first()
        if client:
            MappingRule.objects.get_or_create(
                kind=RuleKind.DEVICE,
                client=client,
                hostname_pattern=pattern,
                defaults={"exclude": True, "priority": 10, "note": note},
            )


def seed(stdout=None):
    """Load the sample exports and rules, then run detection (idempotent)."""
    _rules()
    imported = False
    for source, name in SAMPLE_FILES:
        if SourceImport.objects.filter(source=source, file_name=name, status=SourceImport.Status.COMMITTED).exists():
            continue
        imp = import_path(source=source, path=str(SAMPLES / name), queue_detection=False)
        if imp.status != SourceImport.Status.COMMITTED:
            raise RuntimeError(f"the sample {name} did not import: {imp.errors[:3]}")
        if source == ImportSource.DEVICES:
            Device.objects.update(last_seen=F("last_seen") + (timezone.now() - SAMPLE_TAKEN_AT))
        imported = True
    if imported or not DetectionRun.objects.filter(status=DetectionRun.Status.SUCCEEDED).exists():
        run = run_detection(trigger=DetectionRun.Trigger.COMMAND)
        if stdout:
            stdout.write(
                f"missed billing: {run.devices_examined} devices, {run.subscriptions_examined} subscriptions, "
                f"{run.lines_examined} lines examined; {run.created} opportunities found"
            )
    # A few items in each queue state, so every tab of the demo has something in it.
    seed_queue_states(stdout=stdout)


QUEUE_STATES_WANTED = {OpportunityState.SNOOZED: 2, OpportunityState.IGNORED: 2, OpportunityState.REVIEWED: 2}


def seed_queue_states(stdout=None) -> dict:
    """Put a few detected opportunities into snoozed / ignored / reviewed states, through the same
    services the console uses (so the history shows who and when). Twice changes nothing more: it
    only picks items still open, and only while fewer than the wanted number are in each state."""
    """Returns how many items it moved into each state."""
    actor = recipients().filter(is_superuser=False).order_by("id").first() or recipients().order_by("id").first()
    moved = {}
    # Low-impact items first: the demo queue keeps its most valuable items open.
    candidates = list(
        Opportunity.objects.filter(state=OpportunityState.OPEN).order_by("severity_rank", "monthly_impact", "id")[:20]
    )
    for state, wanted in QUEUE_STATES_WANTED.items():
        missing = wanted - Opportunity.objects.filter(state=state).count()
        count = 0
        while missing > 0 and candidates:
            opp = candidates.pop(0)
            if state == OpportunityState.SNOOZED:
                actions.snooze_opportunity(opportunity=opp, until=org_today() + dt.timedelta(days=14), actor=actor)
            elif state == OpportunityState.IGNORED:
                actions.ignore_opportunity(
                    opportunity=opp, reason="Demo: billed under a separate agreement", actor=actor
                )
            else:
                actions.mark_reviewed(opportunity=opp, actor=actor)
            missing -= 1
            count += 1
        moved[state] = count
    if stdout is not None:
        stdout.write(
            "Missed billing demo states: "
            + ", ".join(f"{n} {state}" for state, n in moved.items())
            + ("" if any(moved.values()) else " (nothing to do)")
            + "\n"
        )
    return moved
