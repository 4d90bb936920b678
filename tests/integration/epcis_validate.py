#!/usr/bin/env python3
"""Validates an EPCIS document against a JSON schema (Draft 7).

    epcis_validate.py SCHEMA.json DOCUMENT.json

Formats are checked too: python3-jsonschema has no "uri" checker without the
rfc3987 module, so a URI here is an RFC 3986 absolute URI (scheme ":" rest,
no spaces) and a date-time an RFC 3339 timestamp with a zone. That matters:
the EPCIS schema admits extension members only under names that are URIs.
Prints one line per error and "N errors"; exit 0 when valid, 1 when not.
"""
import datetime
import json
import re
import sys

from jsonschema import Draft7Validator, FormatChecker

checker = FormatChecker()


@checker.checks("uri")
def is_uri(value):
    return not isinstance(value, str) or re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+", value) is not None


@checker.checks("date-time")
def is_date_time(value):
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        return False
    datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        document = json.load(f)
    Draft7Validator.check_schema(schema)
    errors = list(Draft7Validator(schema, format_checker=checker).iter_errors(document))
    for e in errors:
        print("/".join(str(p) for p in e.absolute_path), "-", e.message[:300])
    print(f"{len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
