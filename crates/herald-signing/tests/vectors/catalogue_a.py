#!/usr/bin/env python3
"""Writes catalogue_a.json: inbound webhook requests of twilio, sendgrid, paddle, square, discord,
hubspot and linear, signed by the providers' own libraries (or, where a library has no signer,
by the computation its verifier checks) and checked by those libraries' verifiers.

Each provider's vectors are made in its own module, providers/<provider>.py (its docstring names
the library that signs and the ones that judge), with helpers shared by them in
providers/common_a.py; this file checks the pinned versions, assembles the document and writes it.
Every vector is accepted by the official verifier before it is written, and rejected with the
wrong secret and with a tampered body. Each case carries the verdict of the provider's own
verifier; where a provider ships two official SDKs (paddle, square, discord, hubspot) both are
asked: `judged_by` names both when they agree, and a variant on which they disagree goes to
`disputed_cases` with both verdicts. catalogue_a.notes.md beside this file says, per preset, what
the libraries do.

    python3 -m pip install --quiet --root-user-action=ignore \
        twilio==9.13.0 sendgrid==6.12.5 cryptography==48.0.0 paddle-python-sdk==1.16.1 \
        squareup==46.0.0.20260916 discord-interactions==0.4.0 pynacl==1.6.2 hubspot-api-client==12.0.0
    python3 crates/herald-signing/tests/vectors/catalogue_a.py

The Node packages (each provider module's NODE_PACKAGES) are installed with npm into
$HERALD_VECTORS_NODE_A_PREFIX (default ~/.cache/herald-vectors/node-a) when absent; Node 20+.

Secrets, bodies and timestamps are fixed and every signature is deterministic (HMAC, Ed25519,
RFC 6979 ECDSA), so a rerun with the same package versions writes the same file byte for byte.
Verifiers that read a clock (paddle, hubspot, linear) are given the vector's timestamp as "now",
or the case's, patched for the duration of the check only (time.time / datetime.now in Python,
Date and Date.now in Node).
"""

import importlib.metadata
import json
from pathlib import Path

from providers import discord, hubspot, linear, paddle, sendgrid, square, twilio
from providers.common_a import install_node_packages

OUT = Path(__file__).with_name("catalogue_a.json")
PROVIDERS = [twilio, sendgrid, paddle, square, discord, hubspot, linear]  # the order of the file
PY_PACKAGES = {p: v for provider in PROVIDERS for p, v in provider.PY_PACKAGES.items()}
NODE_PACKAGES = {p: v for provider in PROVIDERS for p, v in provider.NODE_PACKAGES.items()}


def main():
    for package, version in PY_PACKAGES.items():
        installed = importlib.metadata.version(package)
        assert installed == version, f"{package} {installed} is installed, providers/ pin {version}"
    install_node_packages(NODE_PACKAGES)
    made = [v for provider in PROVIDERS for v in provider.vectors()]
    # A vector of a variant SPEC.md does not name (twilio's SharedKey) says why it is not replayed.
    vectors = [v for v in made if "not_replayed_because" not in v]
    not_replayed = [v for v in made if "not_replayed_because" in v]
    names = [v["name"] for v in vectors + not_replayed]
    assert len(names) == len(set(names)), names
    for v in vectors + not_replayed:
        assert v["url"] is None or "/in/" in v["url"], v["name"]  # tests/vectors.rs alters the URL there
        case_names = [c["name"] for c in v["cases"] + v.get("disputed_cases", [])]
        assert len(case_names) == len(set(case_names)), (v["name"], case_names)
    doc = {
        "about": "Inbound webhook requests of twilio, sendgrid, paddle, square, discord, hubspot and linear, signed by "
        "the providers' libraries and judged by their verifiers; written by catalogue_a.py (see "
        "catalogue_a.notes.md), replayed by tests/vectors.rs. `disputed_cases` (where a provider's two official SDKs "
        "disagree, with both verdicts) and `not_replayed` (a vector of a variant SPEC.md does not name) are not "
        "replayed. Do not edit by hand.",
        # PyPI and npm both have a discord-interactions: the npm one is written "npm:discord-interactions".
        "libraries": {**PY_PACKAGES, **{(f"npm:{p}" if p in PY_PACKAGES else p): v for p, v in NODE_PACKAGES.items()}},
        "vectors": vectors,
        "not_replayed": not_replayed,
    }
    OUT.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(vectors)} vectors ({sum(len(v['cases']) for v in vectors)} cases, "
          f"{sum(len(v.get('disputed_cases', [])) for v in vectors)} disputed) and "
          f"{len(not_replayed)} not replayed to {OUT}")


if __name__ == "__main__":
    main()
