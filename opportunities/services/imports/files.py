"""Opening an uploaded file: encoding, delimiter, the header checked; clients looked up by reference."""

import csv

from clients.models import Client

from .outcome import ImportRejectedError
from .specs import _norm_header


def _open_checked(imp, spec):
    """Open the stored file, check it is text CSV with the right header.

    Returns (binary file positioned after the header line, delimiter, header names).
    """
    fh = imp.file.open("rb")
    head = fh.read(8192)
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        fh.close()
        raise ImportRejectedError("The file is empty.")
    if b"\x00" in head:
        fh.close()
        raise ImportRejectedError("This is not a CSV file (it contains binary data).")
    fh.seek(0)
    raw = fh.readline()
    try:
        header_line = raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        fh.close()
        raise ImportRejectedError("The file is not UTF-8 text; export it as CSV (UTF-8).") from None
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    names = [_norm_header(h) for h in next(csv.reader([header_line], delimiter=delimiter))]
    missing = [c for c in spec.required if c not in names]
    if missing or len(set(names)) != len(names):
        fh.close()
        expected = ", ".join(spec.required + tuple(f"[{c}]" for c in spec.optional))
        problem = f"missing {', '.join(missing)}" if missing else "a column name appears twice"
        raise ImportRejectedError(f"The header is wrong ({problem}). Expected columns: {expected}.")
    return fh, delimiter, names


def _client_lookup(spec):
    by_ext, by_name, dup_names = {}, {}, set()
    for pk, ext, name in Client.objects.values_list("pk", spec.client_field, "name"):
        if ext:
            by_ext[ext] = pk
        if name in by_name:
            dup_names.add(name)
        by_name[name] = pk
    for name in dup_names:
        del by_name[name]
    return lambda ref: by_ext.get(ref) or by_name.get(ref)
