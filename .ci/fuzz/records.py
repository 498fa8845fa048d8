"""Writes the ids of the records a server holds as schemathesis dictionaries (.ci/fuzz/run).

Usage: records.py GRAPHQL_URL TOKEN DIRECTORY. One libFuzzer-style file per kind of record
(`patients.dict`, ...), which schemathesis.toml binds to the arguments that take such an id: the
generated operations then reach the rules behind the lookups instead of stopping at NOT_FOUND.
Ids are opaque, so they are read from the API, never built.
"""

import json
import pathlib
import sys
import urllib.request

QUERY = """{
  patients(first: 100) { nodes { id patientId } }
  doctors(first: 100) { nodes { id } }
  appointments(first: 100) { nodes { id } }
  prescriptions(first: 100) { nodes { id } }
  jobs(first: 100) { nodes { id } }
}"""


def main(url, token, directory):
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.load(response)
    if answer.get("errors"):
        sys.exit(f"records: the query failed: {json.dumps(answer['errors'])}")
    data = answer["data"]
    kinds = {kind: [node["id"] for node in data[kind]["nodes"]] for kind in data}
    kinds["patient-numbers"] = [node["patientId"] for node in data["patients"]["nodes"]]
    kinds["records"] = sorted({id for kind in data for id in kinds[kind]})
    out = pathlib.Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for kind, values in kinds.items():
        if not values:
            sys.exit(f"records: the server holds no {kind}")
        # Ids and patient numbers are base64 and PAT-digits: nothing to escape inside the quotes.
        (out / f"{kind}.dict").write_text("".join(f'"{value}"\n' for value in values))


if __name__ == "__main__":
    main(*sys.argv[1:])
