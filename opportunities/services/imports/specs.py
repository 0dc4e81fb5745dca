"""What each source's file holds: its columns (required, optional, lengths) and header aliases."""

import datetime as dt
import re
from dataclasses import dataclass, field

from django.utils import timezone

from ...models import DeviceType, ImportSource, SubscriptionStatus


@dataclass(frozen=True)
class Choice:
    """A column whose cell, case-folded, must be one of a model's choices: the one place both
    engines take the allowed values and the message from."""

    label: str
    values: tuple

    def message(self, raw: str) -> str:
        return f'{self.label} "{raw}" is not one of {", ".join(self.values)}'

    def sql_values(self) -> str:
        """The values as an SQL list (plain ASCII words: safe to write into the statement)."""
        return ", ".join(f"'{value}'" for value in self.values)

    def sql_message(self, column: str) -> str:
        """The same message, built in SQL for ``column`` (inside a ``format()`` with ``%%s``)."""
        return f"""format('{self.label} "%%s" is not one of {", ".join(self.values)}', {column})"""


@dataclass(frozen=True)
class WholeNumber:
    """A count (a quantity): digits only, at most ``digits`` of them; both engines match the same
    pattern and say the same words."""

    label: str
    digits: int = 9

    @property
    def pattern(self) -> str:
        return rf"^\d{{1,{self.digits}}}$"

    def parse(self, raw: str) -> int:
        if not re.fullmatch(self.pattern, raw):
            raise ValueError(self.message(raw))
        return int(raw)

    def message(self, raw: str) -> str:
        return f'{self.label} "{raw}" is not a whole number ≥ 0'

    def sql_value(self, placeholder: str) -> str:
        """The cell as an integer, NULL when it does not match: SQL for a ``str.format`` template in
        which ``{placeholder}`` stands for the cell."""
        pattern = self.pattern.replace("{", "{{").replace("}", "}}")
        return f"CASE WHEN {{{placeholder}}} ~ '{pattern}' THEN ({{{placeholder}}})::integer END"

    def sql_message(self, column: str) -> str:
        return f"""format('{self.label} "%%s" is not a whole number ≥ 0', {column})"""


@dataclass(frozen=True)
class Timestamp:
    """A date and time (ISO 8601, a space allowed before the time; UTC when it names no zone),
    between ``EARLIEST`` and a day after now (a clock a little ahead is not an error; a device
    last seen in the year 9999 or 1 BC is a broken export)."""

    label: str
    EARLIEST = "1990-01-01T00:00:00+00:00"
    WINDOW = "between 1 Jan 1990 and tomorrow"

    def message(self, raw: str) -> str:
        return f'{self.label} "{raw}" is not a date and time'

    def sql_message(self, column: str) -> str:
        return f"""format('{self.label} "%%s" is not a date and time', {column})"""

    def check_window(self, value: dt.datetime, raw: str) -> dt.datetime:
        if not dt.datetime.fromisoformat(self.EARLIEST) <= value <= timezone.now() + dt.timedelta(days=1):
            raise ValueError(self.window_message(raw))
        return value

    def window_message(self, raw: str) -> str:
        return f'{self.label} "{raw}" is not {self.WINDOW}'

    def sql_in_window(self, column: str) -> str:
        return f"{column} BETWEEN '{self.EARLIEST}'::timestamptz AND now() + interval '1 day'"

    def sql_window_message(self, column: str) -> str:
        return f"""format('{self.label} "%%s" is not {self.WINDOW}', {column})"""


DEVICE_TYPE = Choice("device type", tuple(DeviceType.values))
SUBSCRIPTION_STATUS = Choice("status", tuple(SubscriptionStatus.values))
QUANTITY = WholeNumber("quantity")
LAST_SEEN = Timestamp("last seen")


@dataclass(frozen=True)
class SourceSpec:
    key: str
    required: tuple
    optional: tuple
    client_field: str  # the client's external id for this source
    lengths: dict = field(default_factory=dict)


SPECS = {
    ImportSource.DEVICES: SourceSpec(
        key="device_id",
        required=("device_id", "client", "hostname", "device_type"),
        optional=("os", "last_seen"),
        client_field="rmm_id",
        lengths={"device_id": 100, "hostname": 255, "os": 200},
    ),
    ImportSource.SUBSCRIPTIONS: SourceSpec(
        key="subscription_id",
        required=("subscription_id", "client", "vendor_sku", "product_name", "quantity"),
        optional=("status", "term"),
        client_field="distributor_id",
        lengths={"subscription_id": 100, "vendor_sku": 100, "product_name": 255, "term": 40},
    ),
    ImportSource.CONTRACT_LINES: SourceSpec(
        key="line_id",
        required=("line_id", "contract", "product_sku", "quantity", "unit_price"),
        optional=("client",),
        client_field="psa_id",
        lengths={"line_id": 64},
    ),
}


HEADER_ALIASES = {
    "organization": "client",
    "organisation": "client",
    "customer": "client",
    "company": "client",
    "company_id": "client",
    "customer_id": "client",
    "client_id": "client",
    "site": "client",
    "type": "device_type",
    "node_class": "device_type",
    "device_class": "device_type",
    "last_contact": "last_seen",
    "last_seen_at": "last_seen",
    "last_online": "last_seen",
    "operating_system": "os",
    "sku": "vendor_sku",
    "product": "product_name",
    "qty": "quantity",
    "seats": "quantity",
    "billing_term": "term",
    "line": "line_id",
    "contract_number": "contract",
    "product_code": "product_sku",
    "price": "unit_price",
}


def _norm_header(name: str) -> str:
    name = re.sub(r"[\s\-]+", "_", name.strip().strip('"').strip().lower())
    return HEADER_ALIASES.get(name, name)


PY_FIELDS = {
    ImportSource.DEVICES: ("client_id", "hostname", "device_type", "os", "last_seen"),
    ImportSource.SUBSCRIPTIONS: ("client_id", "vendor_sku", "product_name", "quantity", "status", "term"),
    ImportSource.CONTRACT_LINES: ("contract_id", "product_id", "quantity", "unit_price"),
}
