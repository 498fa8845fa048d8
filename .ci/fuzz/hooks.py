"""Schemathesis hooks for the CI fuzz run (.ci/fuzz/run): what fails, and which values to try.

A failure is an answer with status 5xx, or an error whose `extensions.code` is
INTERNAL_SERVER_ERROR. Every other error (VALIDATION_FAILED, NOT_FOUND, FORBIDDEN, ...) is the API
refusing input as designed; schemathesis' own `not_a_server_error` counts those as server errors
too, so schemathesis.toml turns its checks off and keeps only this one.

The value strategies put the edges next to ordinary values: with about a hundred examples per
operation, schemathesis' defaults rarely send a NUL character or a date near the end of time.
"""

import datetime
import json

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

# Characters that text columns, terminals and CSV readers treat specially.
SPECIAL = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\t", "\n", "\r", "\u2028", "\u202e", "\ufeff"]
TEXT = st.one_of(
    st.text(),
    st.sampled_from(SPECIAL),
    st.tuples(st.text(max_size=8), st.sampled_from(SPECIAL), st.text(max_size=8)).map("".join),
)

# Where date arithmetic overflows: chrono's first and last instants, the end of year 9999 (the
# last with four digits), the start of year 1 and the year 0.
EDGE_INSTANTS = [
    "+262142-12-31T23:59:59Z",
    "+262142-12-31T23:00:00Z",
    "-262143-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T16:00:00Z",
    "+10000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
]
EDGE_DAYS = ["+262142-12-31", "-262143-01-01", "9999-12-31", "+10000-01-01", "0001-01-01"]
# Ordinary days, many in the future, where bookings and prescriptions get past "must be later".
DAYS = st.one_of(
    st.dates(),
    st.dates(min_value=datetime.date(2030, 1, 1), max_value=datetime.date(2100, 12, 31)),
).map(datetime.date.isoformat)
INSTANTS = st.tuples(DAYS, st.times().map(lambda time: time.isoformat() + "Z")).map("T".join)

schemathesis.graphql.scalar("String", TEXT.map(nodes.String))
schemathesis.graphql.scalar("Date", st.one_of(st.sampled_from(EDGE_DAYS), DAYS).map(nodes.String))
schemathesis.graphql.scalar(
    "DateTime", st.one_of(st.sampled_from(EDGE_INSTANTS), INSTANTS).map(nodes.String)
)
# A file travels only in a multipart request, where its variable holds the file's index; in a
# JSON body an `Upload` argument is whatever a client puts there: indexes of files never sent,
# and values of other types.
schemathesis.graphql.scalar(
    "Upload",
    st.one_of(
        st.integers(min_value=-1, max_value=3).map(nodes.Int),
        TEXT.map(nodes.String),
    ),
)


@schemathesis.check
def no_internal_error(ctx, response, case):
    """Neither a 5xx answer nor an INTERNAL_SERVER_ERROR among the errors of any other."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:2000]}")
    try:
        payload = response.json()
    except ValueError:
        raise AssertionError(f"not JSON (HTTP {response.status_code}): {response.text[:2000]}")
    for answer in payload if isinstance(payload, list) else [payload]:
        for error in (answer or {}).get("errors") or []:
            if (error.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR":
                # Named by its path, not its request id, so that schemathesis reports each
                # failing field once; the answer it prints carries the request id for the log.
                raise AssertionError(f"INTERNAL_SERVER_ERROR at {json.dumps(error.get('path'))}")
