"""Invoice PDFs: rendered from the invoice as issued, stored once, downloaded and attached to e-mails.

The PDF is drawn with fpdf2 (pure Python, installed from PyPI) in the vendored DejaVu Sans
(``invoices/fonts``), so every character of a description prints. What it says is decided at issue
(number, dates, lines, total, carried in, amount due, whether anything is to pay), so the stored
file stays true for the life of the invoice; a later payment changes the invoice page, not its PDF.
"""

import logging
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils.text import get_valid_filename
from fpdf import FPDF

from clients.dates import display_date
from clients.money import ZERO, quantize

from ..fonts import FAMILY, add_fonts, font_files
from ..models import BillingProfile, Invoice, InvoiceDocument, InvoiceLine

log = logging.getLogger(__name__)

MARGIN = 14  # mm, all round
LINE = 4.4  # mm, one line of table text
PAD = 1.6  # mm above and below a table row's text
GREY = (95, 95, 95)
RULE = (200, 200, 200)
HEAD_FILL = (236, 238, 242)
# (heading, width in mm, alignment): the lines table fills the 182 mm between the margins.
COLUMNS = (
    ("Description", 84, "L"),
    ("Month", 28, "L"),
    ("Quantity", 20, "R"),
    ("Unit price", 24, "R"),
    ("Amount", 26, "R"),
)


def pdf_filename(invoice: Invoice) -> str:
    """The name the PDF is downloaded and attached as: ``INV-2027-000123.pdf``."""
    return f"{get_valid_filename(invoice.number) or invoice.pk}.pdf"


def _money(amount: Decimal) -> str:
    return f"{quantize(amount):,.2f}"


def _currency(amount: Decimal) -> str:
    return f"{settings.ORGANISATION_CURRENCY} {_money(amount)}"


def _quantity(quantity: Decimal) -> str:
    return f"{quantity:,.0f}" if quantity == quantity.to_integral_value() else f"{quantity:,.2f}"


def _month(line: InvoiceLine) -> str:
    """The Month column: the month billed, and whether the line corrects one or bills part of it."""
    if line.period is None:
        return ""
    parts = [f"{line.period:%b %Y}"]
    if line.days is not None and line.days_in_month and line.days != line.days_in_month:
        parts.append(f"{line.days}/{line.days_in_month} days")
    if line.adjustment:
        parts.append("adjustment")
    return "\n".join(parts)


def _load(invoice: Invoice) -> tuple[Invoice, list[InvoiceLine]]:
    """The invoice with its client and billing profile (one query) and its lines (one query)."""
    invoice = Invoice.objects.select_related("client", "client__billing_profile").get(pk=invoice.pk)
    return invoice, list(InvoiceLine.objects.filter(invoice_id=invoice.pk).order_by("id"))


def _billing_email(invoice: Invoice) -> str:
    try:
        return invoice.client.billing_profile.billing_email
    except BillingProfile.DoesNotExist:
        return ""


def payment_note(invoice: Invoice) -> str:
    """What the invoice asks of the client, as the invoice page says it: what to pay and by when,
    or why there is nothing to pay."""
    if invoice.is_credit:
        return (
            f"Nothing to pay: this credit of {_currency(-invoice.total)} is set against your open and future invoices."
        )
    if invoice.below_threshold:
        return (
            f"Nothing to pay now: the amount due of {_currency(invoice.amount_due)} is below your collection "
            "threshold, so it is carried into your next invoice."
        )
    if invoice.amount_due <= ZERO:
        return "Nothing to pay: this invoice is for no amount (Do not pay)."
    return f"Please pay {_currency(invoice.amount_due)} by {display_date(invoice.due_on)}."


class _InvoicePDF(FPDF):
    """An A4 invoice: a footer with the number and page on every page, the lines table's heading
    repeated at the top of every page the table runs onto."""

    def __init__(self, number: str, fonts: dict):
        super().__init__(format="A4", unit="mm")
        self.number = number
        add_fonts(self, fonts)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + 6)
        self.c_margin = 1.2
        self.set_title(f"Invoice {number}")
        self.set_author(settings.ORGANISATION_NAME)
        self.set_creator("BillingOne")

    def footer(self):
        self.set_y(-MARGIN - 2)
        self.font(8, color=GREY)
        self.cell(0, 4, f"{settings.ORGANISATION_NAME} · {self.number} · page {self.page_no()} of {{nb}}", align="C")

    def font(self, size: float, *, bold: bool = False, color=(0, 0, 0)):
        self.set_font(FAMILY, "B" if bold else "", size)
        self.set_text_color(*color)

    def fits(self, width: float, text: str) -> bool:
        """Whether ``text`` takes one line in a cell this wide."""
        return "\n" not in text and self.get_string_width(text) <= width - 2 * self.c_margin

    def text_lines(self, width: float, text: str) -> int:
        """How many lines ``text`` takes in a cell this wide (measured, not drawn)."""
        if self.fits(width, text):
            return 1
        return len(self.multi_cell(width, LINE, text, dry_run=True, output="LINES"))

    def row(self, texts, *, bold: bool = False, fill=None) -> None:
        """One row of the lines table, wrapped; on a new page when it would not fit this one."""
        self.font(8.5, bold=bold)
        height = max(self.text_lines(w, text) for text, (_h, w, _a) in zip(texts, COLUMNS, strict=True))
        height = height * LINE + 2 * PAD
        if self.will_page_break(height):
            self.add_page()
            self.table_head()
            self.font(8.5, bold=bold)
        x, y = self.l_margin, self.get_y()
        if fill:
            self.set_fill_color(*fill)
            self.rect(x, y, self.epw, height, style="F")
        for text, (_heading, width, align) in zip(texts, COLUMNS, strict=True):
            self.set_xy(x, y + PAD)
            if self.fits(width, text):  # most cells: a plain cell costs a tenth of a wrapped one
                self.cell(width, LINE, text, align=align)
            else:
                self.multi_cell(width, LINE, text, align=align)
            x += width
        self.set_draw_color(*RULE)
        self.line(self.l_margin, y + height, self.l_margin + self.epw, y + height)
        self.set_xy(self.l_margin, y + height)

    def table_head(self) -> None:
        self.row([heading for heading, _w, _a in COLUMNS], bold=True, fill=HEAD_FILL)


def _head(pdf: _InvoicePDF, invoice: Invoice, email: str) -> None:
    """Organisation and its address on the left; the document, its number and dates on the right;
    then who it is billed to."""
    top = pdf.get_y()
    pdf.font(15, bold=True)
    pdf.multi_cell(100, 7, settings.ORGANISATION_NAME, new_x="LMARGIN", new_y="NEXT")
    pdf.font(9, color=GREY)
    pdf.multi_cell(100, 4.4, settings.ORGANISATION_ADDRESS.strip(), new_x="LMARGIN", new_y="NEXT")
    left_end = pdf.get_y()
    right = pdf.l_margin + pdf.epw - 74
    pdf.set_xy(right, top)
    pdf.font(17, bold=True)
    pdf.cell(74, 8, "Credit note" if invoice.is_credit else "Invoice", align="R", new_x="LEFT", new_y="NEXT")
    facts = [("Number", invoice.number), ("Issued", display_date(invoice.issued_on))]
    facts.append(("Due", display_date(invoice.due_on)))
    if invoice.period_start and invoice.period_end:
        facts.append(("Period", f"{display_date(invoice.period_start)} – {display_date(invoice.period_end)}"))
    for label, value in facts:
        pdf.set_x(right)
        pdf.font(9, color=GREY)
        pdf.cell(22, 5, label)
        pdf.font(9, bold=label == "Number")
        pdf.cell(52, 5, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(left_end, pdf.get_y()) + 7)
    pdf.font(8, bold=True, color=GREY)
    pdf.cell(0, 4.5, "BILL TO", new_x="LMARGIN", new_y="NEXT")
    pdf.font(11, bold=True)
    pdf.multi_cell(120, 5.5, invoice.client.name, new_x="LMARGIN", new_y="NEXT")
    if email:
        pdf.font(9)
        pdf.multi_cell(120, 4.6, email, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)


def _totals(pdf: _InvoicePDF, invoice: Invoice) -> None:
    """Total, carried in and amount due under the table, then what to pay (or why nothing)."""
    figures = [("Total", invoice.total)]
    if not invoice.is_credit:
        figures += [("Carried in from earlier invoices", invoice.carried_in), ("Amount due", invoice.amount_due)]
    if pdf.will_page_break(len(figures) * 6 + 28):
        pdf.add_page()
    pdf.ln(2)
    for label, amount in figures:
        last = label == figures[-1][0]
        pdf.set_x(pdf.l_margin + pdf.epw - 110)
        pdf.font(9.5 if last else 9, bold=last)
        pdf.cell(72, 6, label, align="R")
        pdf.cell(38, 6, _currency(amount), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    note = payment_note(invoice)
    payable = note.startswith("Please pay")
    pdf.set_fill_color(*HEAD_FILL)
    pdf.font(10, bold=True)
    pdf.multi_cell(0, 6, note, fill=True, padding=(2, 3, 0 if payable else 2, 3), new_x="LMARGIN", new_y="NEXT")
    if payable:
        pdf.font(9)
        pdf.multi_cell(0, 5, settings.ORGANISATION_PAYMENT_INSTRUCTIONS, fill=True, padding=(1, 3, 2, 3))


def render_invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as a PDF (two queries: the invoice with its client and billing profile, its lines)."""
    invoice, lines = _load(invoice)
    email = _billing_email(invoice)
    rows = [
        (line.description, _month(line), _quantity(line.quantity), _money(line.unit_price), _money(line.amount))
        for line in lines
    ]
    text = "".join(
        [settings.ORGANISATION_NAME, settings.ORGANISATION_ADDRESS, settings.ORGANISATION_PAYMENT_INSTRUCTIONS]
        + [invoice.number, invoice.client.name, email, settings.ORGANISATION_CURRENCY]
        + ["".join(row) for row in rows]
    )
    pdf = _InvoicePDF(invoice.number, font_files(text + "Credit note·–0123456789"))
    pdf.add_page()
    _head(pdf, invoice, email)
    pdf.table_head()
    for row in rows:
        pdf.row(row)
    if not rows:
        pdf.row(["No lines.", "", "", "", ""])
    _totals(pdf, invoice)
    return bytes(pdf.output())


def invoice_document(invoice: Invoice) -> InvoiceDocument:
    """The invoice's stored PDF, rendered and stored the first time it is asked for and kept as it
    was then. Two workers asking at once both render; the first to store it wins (the one-to-one
    row), and the other's file is removed."""
    document = InvoiceDocument.objects.filter(invoice_id=invoice.pk).first()
    if document is not None:
        return document
    content = render_invoice_pdf(invoice)
    document = InvoiceDocument(invoice_id=invoice.pk, size=len(content))
    document.file.save(pdf_filename(invoice), ContentFile(content), save=False)
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:
        document.file.delete(save=False)
        return InvoiceDocument.objects.get(invoice_id=invoice.pk)
    return document


def invoice_pdf(invoice: Invoice) -> bytes:
    """The bytes of the invoice's PDF as stored at its first rendering (rendered now if never)."""
    document = invoice_document(invoice)
    try:
        with document.file.open("rb") as handle:
            return handle.read()
    except FileNotFoundError:  # the media volume lost it: the same invoice renders the same document
        log.warning("stored PDF of invoice %s is missing from %s: rendered again", invoice.pk, document.file.name)
        content = render_invoice_pdf(invoice)
        document.size = len(content)
        document.file.save(pdf_filename(invoice), ContentFile(content), save=True)
        return content
