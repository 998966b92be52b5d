#!/usr/bin/env python3
"""Writes catalogue_b.json: inbound webhook requests of the second catalogue of presets
(twitch, zoom, meta, intercom, mailgun, pagerduty, postmark, svix, clerk, resend, openai and
the asymmetric Standard Webhooks `v1a`), signed and judged by the providers' own code.

Where a provider publishes a verifier it signs (or, lacking a signer, checks) every request:
`@zoom/rivet` (Zoom), `whatsapp` (Meta's WhatsApp Node.js SDK, for X-Hub-Signature-256),
`mailgun` (PyPI), `svix` (Svix, Clerk, Resend), `standardwebhooks` and `openai` (PyPI, its
`client.webhooks.verify_signature`). Where none exists, the exact code of the provider's docs
does, and `produced_by` says so: Twitch (their Node example), Zoom's signing side, Intercom,
Mailgun's signing side, PagerDuty (their Python example), Postmark (HTTP Basic credentials as
urllib3 and requests build them). The asymmetric Standard Webhooks scheme is signed with
PyNaCl and checked with PyNaCl and `cryptography` under the Standard Webhooks header rules.

Each case carries the verdict of that code (`judged_by`), which herald must reproduce. Where
two official sources disagree on a variant (openai vs standardwebhooks, go-pagerduty vs the
PagerDuty docs, ...) the variant is left out and catalogue_b.notes.md says why.

    python3 -m pip install --quiet --root-user-action=ignore \
        svix==2.9.1 standardwebhooks==1.1.0 openai==3.60.0 pynacl==1.6.2 \
        cryptography==48.0.0 mailgun==1.10.0 urllib3==2.7.0 requests==2.34.2
    python3 crates/herald-signing/tests/vectors/catalogue_b.py

This file only assembles the document: each preset's vectors are made by its own module in
providers/ (twitch, zoom, meta, intercom, mailgun, pagerduty, postmark, standard_family for
svix/clerk/resend/openai, v1a), whose docstring says which library or document signs and
judges; providers/common_b.py holds what they share. Adding a provider is one module there and
one entry in PROVIDERS below (its Python pins in PY_PACKAGES).

The Node packages (common_b.NODE_PACKAGES) are installed with npm into
$HERALD_VECTORS_NODE_B_PREFIX (default ~/.cache/herald-vectors/node-b) when absent, together
with the Node side (common_b.NODE_SCRIPT, written there as catalogue_b.mjs); Node 18+.

Secrets, bodies and timestamps are fixed, so a rerun with the same versions writes the same
file byte for byte. Verifiers that read a clock are given the vector's timestamp as "now", or
the case's, patched for the duration of the check only.
"""

import importlib.metadata
import json
import sys
from pathlib import Path

from providers import intercom, mailgun, meta, pagerduty, postmark, standard_family, twitch, v1a, zoom
from providers.common_b import DISAGREEMENTS, NODE_PACKAGES

OUT = Path(__file__).with_name("catalogue_b.json")
PY_PACKAGES = {
    "svix": "2.9.1",
    "standardwebhooks": "1.1.0",
    "openai": "3.60.0",
    "PyNaCl": "1.6.2",
    "cryptography": "48.0.0",
    "mailgun": "1.10.0",
    "urllib3": "2.7.0",
    "requests": "2.34.2",
}
# In the order the vectors are written.
PROVIDERS = [twitch, zoom, meta, intercom, mailgun, pagerduty, postmark, standard_family, v1a]


def check_versions():
    found = {p: importlib.metadata.version(p) for p in PY_PACKAGES}
    off = {p: (found[p], v) for p, v in PY_PACKAGES.items() if found[p] != v}
    if off:
        pins = " ".join(f"{p}=={v}" for p, v in PY_PACKAGES.items())
        sys.exit(f"package versions differ from the pins {off}; install with:\n"
                 f"  python3 -m pip install --quiet --root-user-action=ignore {pins}")


def main():
    check_versions()
    vectors = [v for provider in PROVIDERS for v in provider.vectors()]
    names = [v["name"] for v in vectors]
    assert len(names) == len(set(names)), names
    libraries = dict(PY_PACKAGES)
    libraries.update(NODE_PACKAGES)
    doc = {
        "about": "Inbound webhook requests of the second catalogue (twitch, zoom, meta, intercom, mailgun, "
        "pagerduty, postmark, svix, clerk, resend, openai, standard v1a), signed and judged by the providers' "
        "libraries or their docs' code; written by catalogue_b.py, see catalogue_b.notes.md. Do not edit by hand.",
        "libraries": libraries,
        "vectors": vectors,
    }
    OUT.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(vectors)} vectors ({sum(len(v['cases']) for v in vectors)} cases) to {OUT}")
    seen = set()
    for scheme, vector_name, variant, verdicts in DISAGREEMENTS:
        if (scheme, variant, verdicts) in seen:
            continue
        seen.add((scheme, variant, verdicts))
        print(f"left out ({scheme}): {variant}: {verdicts}")


if __name__ == "__main__":
    main()
