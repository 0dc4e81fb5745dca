"""Demo data for the clients app: a believable MSP with ~30 clients, a catalogue and contracts.

Deterministic (fixed random seed) and idempotent: every row is keyed by a natural
key (username, SKU, PSA id, contract number, line external id), so running it
twice changes nothing.
"""

import datetime as dt
import random
from decimal import Decimal

from django.contrib.auth.models import Group, User

from .models import Client, Contract, ContractLine, Product, ProductCategory, ServiceStatus
from .roles import ADMIN, FINANCE, VIEWER

DEMO_PASSWORD = "billingone-demo"
DEMO_USERS = [
    # username, role, full name, is_staff (Django admin)
    ("viewer", VIEWER, "Vera Viewer", False),
    ("finance", FINANCE, "Fran Finance", False),
    ("admin", ADMIN, "Ada Admin", True),
]

CATALOGUE = [
    # sku, name, unit price, category, retired
    ("MS-WS", "Managed workstation", "45.00", ProductCategory.MANAGED_DEVICE, False),
    ("MS-SRV", "Managed server", "150.00", ProductCategory.MANAGED_DEVICE, False),
    ("MS-NET", "Managed network device", "25.00", ProductCategory.MANAGED_DEVICE, False),
    ("MS-WS-LEGACY", "Managed workstation (legacy plan)", "39.00", ProductCategory.MANAGED_DEVICE, True),
    ("MS-SRV-LEGACY", "Managed server (legacy plan)", "120.00", ProductCategory.MANAGED_DEVICE, True),
    ("M365-BP", "Microsoft 365 Business Premium", "22.00", ProductCategory.LICENCE, False),
    ("M365-BS", "Microsoft 365 Business Standard", "12.50", ProductCategory.LICENCE, False),
    ("M365-BB", "Microsoft 365 Business Basic", "6.00", ProductCategory.LICENCE, False),
    ("M365-E3", "Microsoft 365 E3", "36.00", ProductCategory.LICENCE, False),
    ("EXO-P1", "Exchange Online (Plan 1)", "4.00", ProductCategory.LICENCE, False),
    ("O365-E1", "Office 365 E1 (retired)", "10.00", ProductCategory.LICENCE, True),
    ("DEF-EP", "Microsoft Defender for Endpoint P1", "3.00", ProductCategory.LICENCE, False),
    ("BKP-M365", "Cloud backup for Microsoft 365", "3.50", ProductCategory.LICENCE, False),
    ("EDR-S1", "SentinelOne Control", "5.50", ProductCategory.LICENCE, False),
    ("SEC-AWARE", "Security awareness training", "2.50", ProductCategory.SERVICE, False),
    ("HELPDESK", "Helpdesk, per user", "30.00", ProductCategory.SERVICE, False),
    ("VCIO", "Virtual CIO retainer", "750.00", ProductCategory.SERVICE, False),
]

CLIENT_NAMES = [
    "Abbott & Finch Solicitors",
    "Birchwood Dental Group",
    "Calder Valley Logistics",
    "Dunmore Architects",
    "Eastgate Veterinary Clinic",
    "Fenwick Engineering",
    "Greystone Property Management",
    "Harbour View Hotels",
    "Ingram Accountancy",
    "Juniper Schools Trust",
    "Kestrel Marketing",
    "Larkspur Care Homes",
    "Meridian Freight",
    "Northfield Medical Practice",
    "Oakridge Manufacturing",
    "Pemberton Estate Agents",
    "Quayside Brewing Co",
    "Redfern Insurance Brokers",
    "Stanton Builders Merchants",
    "Thornbury Charity Foundation",
    "Upland Outdoor Retail",
    "Vantage Recruitment",
    "Westbrook Family Law",
    "Yardley Print & Signs",
    "Zenith Financial Planning",
    "Ashcombe Golf Club",
    "Brightwater Nurseries",
    "Cobalt Software Studio",
    "Driftwood Holiday Parks",
    "Elmstead Parish Council",
]

SIZES = ["small"] * 12 + ["medium"] * 12 + ["large"] * 6


def _users(stdout):
    for username, role, full_name, is_staff in DEMO_USERS:
        first, last = full_name.split(" ", 1)
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@billingone.localhost",
                "is_staff": is_staff,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(Group.objects.get(name=role))


def _catalogue():
    products = {}
    for sku, name, price, category, retired in CATALOGUE:
        products[sku], _ = Product.objects.get_or_create(
            sku=sku, defaults={"name": name, "unit_price": Decimal(price), "category": category, "retired": retired}
        )
    return products


def _lines_for(rng, size, products):
    users = {"small": rng.randint(5, 15), "medium": rng.randint(20, 60), "large": rng.randint(80, 200)}[size]
    servers = {"small": rng.randint(0, 1), "medium": rng.randint(1, 4), "large": rng.randint(4, 12)}[size]
    network = {"small": rng.randint(1, 3), "medium": rng.randint(3, 8), "large": rng.randint(8, 20)}[size]
    ws_sku = "MS-WS-LEGACY" if rng.random() < 0.2 else "MS-WS"
    lines = [(ws_sku, users), ("MS-NET", network), (rng.choice(["M365-BP", "M365-BP", "M365-BS", "M365-E3"]), users)]
    if servers:
        lines.append(("MS-SRV-LEGACY" if rng.random() < 0.15 else "MS-SRV", servers))
    if rng.random() < 0.6:
        lines.append(("BKP-M365", users))
    if rng.random() < 0.5:
        lines.append(("DEF-EP", users))
    if rng.random() < 0.3:
        lines.append(("O365-E1", rng.randint(2, 10)))
    if rng.random() < 0.4:
        lines.append(("SEC-AWARE", users))
    if size == "large" and rng.random() < 0.7:
        lines.append(("VCIO", 1))
    return lines


def seed(stdout=None, today=None):
    """Create the demo users, catalogue, clients and contracts (idempotent)."""
    rng = random.Random(20261122)
    today = today or dt.date(2026, 11, 1)
    _users(stdout)
    products = _catalogue()
    statuses = [ServiceStatus.ACTIVE] * 27 + [ServiceStatus.LIMITED, ServiceStatus.SUSPENDED, ServiceStatus.ACTIVE]
    for index, name in enumerate(CLIENT_NAMES, start=1):
        size = SIZES[index - 1]
        client, _ = Client.objects.get_or_create(
            psa_id=f"PSA-{1000 + index}",
            defaults={
                "name": name,
                "rmm_id": f"RMM-{index:04d}",
                "distributor_id": f"PAX-{7700 + index}",
                "service_status": statuses[index - 1],
            },
        )
        start = today - dt.timedelta(days=rng.randint(120, 1500))
        contract, _ = Contract.objects.get_or_create(
            number=f"AGR-{2000 + index}",
            defaults={"client": client, "name": "Managed services agreement", "start_date": start},
        )
        for n, (sku, qty) in enumerate(_lines_for(rng, size, products), start=1):
            product = products[sku]
            discount = Decimal("0.90") if size == "large" else Decimal("1.00")
            ContractLine.objects.get_or_create(
                external_id=f"{contract.number}-L{n}",
                defaults={
                    "contract": contract,
                    "product": product,
                    "quantity": qty,
                    "unit_price": (product.unit_price * discount).quantize(Decimal("0.01")),
                },
            )
        if size == "large" and index % 2 == 0:
            # A second, project-style contract: makes the apply target ambiguous for some products.
            extra, _ = Contract.objects.get_or_create(
                number=f"AGR-{2000 + index}-B",
                defaults={
                    "client": client,
                    "name": "Project support agreement",
                    "start_date": start + dt.timedelta(days=200),
                },
            )
            ContractLine.objects.get_or_create(
                external_id=f"{extra.number}-L1",
                defaults={
                    "contract": extra,
                    "product": products["HELPDESK"],
                    "quantity": rng.randint(5, 20),
                    "unit_price": Decimal("30.00"),
                },
            )
        if index == 30:
            # An expired contract: shown on the client page, not billed.
            old, _ = Contract.objects.get_or_create(
                number=f"AGR-{2000 + index}-OLD",
                defaults={
                    "client": client,
                    "name": "Previous agreement (expired)",
                    "active": False,
                    "start_date": start - dt.timedelta(days=730),
                    "end_date": start - dt.timedelta(days=1),
                },
            )
            ContractLine.objects.get_or_create(
                external_id=f"{old.number}-L1",
                defaults={
                    "contract": old,
                    "product": products["MS-WS-LEGACY"],
                    "quantity": 8,
                    "unit_price": Decimal("39.00"),
                },
            )
    if stdout:
        stdout.write(
            f"clients: {Client.objects.count()} clients, {Product.objects.count()} products, {Contract.objects.count()} contracts"
        )
