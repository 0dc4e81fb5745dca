"""The two import engines give the same verdict and the same messages on the same file.

PostgreSQL checks devices and subscriptions in SQL; the Python engine (SQLite, and contract lines
everywhere) checks them row by row. Both take the allowed values and messages from one declaration
(``imports.specs``), and this proves they agree, line numbers included.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from opportunities.services.imports import create_import, validate_import, workflow

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("media")]

BAD_DEVICES = (
    "device_id,client,hostname,device_type,os,last_seen\r\n"
    "D-1,RMM-1,ws-01,workstation,Windows 11,2026-11-30T08:00:00Z\r\n"
    "D-2,RMM-1,ws-02,toaster,Linux,2026-11-30\r\n"  # a device type that is not one of the choices
    "D-3,RMM-1,ws-03,server,Linux,yesterday\r\n"  # a last-seen that is no date
    "D-4,RMM-1,,server,Linux,\r\n"  # a required cell missing
    "D-5,NOBODY,ws-05,server,Linux,\r\n"  # an unknown client
    f"D-6,RMM-1,{'h' * 256},server,Linux,\r\n"  # longer than the column
    "D-7,RMM-1,ws-07,server,Linux,9999-12-31T23:59:59-12:00\r\n"  # the year 10000 in UTC
    "D-8,RMM-1,ws-08,server,Linux,0001-01-01T00:00:00+14:00\r\n"  # 1 BC in UTC
    "D-9,RMM-1,ws-09,server,Linux,1989-12-31\r\n"  # before the window
)
BAD_SUBSCRIPTIONS = (
    "subscription_id,client,vendor_sku,product_name,quantity,status,term\r\n"
    "S-1,PAX-1,M365-BP,Microsoft 365 Business Premium,12,active,monthly\r\n"
    "S-2,PAX-1,M365-BP,Microsoft 365 Business Premium,twelve,active,monthly\r\n"  # no whole number
    "S-3,PAX-1,M365-BP,Microsoft 365 Business Premium,3,paused,monthly\r\n"  # not one of the statuses
    "S-4,NOBODY,M365-BP,Microsoft 365 Business Premium,3,active,monthly\r\n"  # an unknown client
    "S-5,PAX-1,,Microsoft 365 Business Premium,3,active,monthly\r\n"  # a required cell missing
)


def _verdict(source, content, *, python_engine, monkeypatch):
    if python_engine:
        monkeypatch.setattr(workflow, "_swaps", lambda imp: False)
    imp = create_import(source=source, uploaded_file=SimpleUploadedFile("file.csv", content.encode()))
    imp = validate_import(imp=imp)
    monkeypatch.undo()
    return imp.status, sorted((e["line"], e["message"]) for e in imp.errors)


@pytest.mark.parametrize(("source", "content"), [("devices", BAD_DEVICES), ("subscriptions", BAD_SUBSCRIPTIONS)])
def test_both_engines_refuse_the_same_rows_with_the_same_messages(acme, monkeypatch, source, content):
    in_sql = _verdict(source, content, python_engine=False, monkeypatch=monkeypatch)
    in_python = _verdict(source, content, python_engine=True, monkeypatch=monkeypatch)
    assert in_sql == in_python
    status, errors = in_sql
    assert status == "invalid" and len(errors) == content.count("\r\n") - 2  # every row but the good one


MIXED_LINE_ENDINGS = (
    "device_id,client,hostname,device_type,os,last_seen\r\n"
    "D-1,RMM-1,ws-01,workstation,Windows 11,2026-11-30T08:00:00Z\n"
    "D-2,RMM-1,ws-02,server,Linux,2026-11-30\r\n"
    "D-3,RMM-1,ws-03,network,,\n"
)


def test_both_engines_accept_a_file_whose_line_endings_mix_lf_and_crlf(acme, monkeypatch):
    in_sql = _verdict("devices", MIXED_LINE_ENDINGS, python_engine=False, monkeypatch=monkeypatch)
    in_python = _verdict("devices", MIXED_LINE_ENDINGS, python_engine=True, monkeypatch=monkeypatch)
    assert in_sql == in_python == ("ready", [])


def test_a_crlf_cut_between_two_blocks_of_the_file_still_reads_as_one_line_ending():
    from opportunities.services.imports.postgres.stage import _UnixLineEndings

    endings = _UnixLineEndings()
    streamed = endings.feed(b"a,b\r") + endings.feed(b"\nc,d\r\n") + endings.feed(b"e,f\n") + endings.rest()
    assert streamed == b"a,b\nc,d\ne,f\n"
