"""Helpers of generate.py: fixed test material, the shape of a case, and the Node runner
that asks @octokit/webhooks-methods and @shopify/shopify-api for their verdicts."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
from pathlib import Path

TOLERANCE_S = 300
DAY_S = 86_400
NODE_PACKAGES = {"@octokit/webhooks-methods": "6.0.0", "@shopify/shopify-api": "13.1.0"}


def derived(label: str, n: int) -> bytes:
    """Fixed pseudo-random bytes, so secrets look real but never change."""
    return hashlib.sha256(f"herald test vector: {label}".encode()).digest()[:n]


def whsec(label: str) -> str:
    return "whsec_" + base64.b64encode(derived(label, 32)).decode()


def stripe_secret(label: str) -> str:
    # Stripe endpoint secrets are `whsec_` + 32 alphanumerics; used whole as the HMAC key.
    return "whsec_" + derived(label, 16).hex()


def bare(secret: str) -> str:
    """A Standard Webhooks secret without its `whsec_` prefix."""
    return secret.removeprefix("whsec_")


def case(name, headers, accepted, judged_by, *, now=None, secret=None):
    """A variant of a vector's request, with the official verifier's verdict."""
    return {
        "name": name,
        "headers": [list(pair) for pair in headers],
        "secret": secret,
        "now": now,
        "accepted": accepted,
        "judged_by": judged_by,
    }


def edge_cases(judge, ts, headers, judged_by):
    """The tolerance's edges and beyond, either way, as `judge(now)` decides them."""
    nows = {
        f"now = t + {TOLERANCE_S} (exactly at the tolerance)": ts + TOLERANCE_S,
        f"now = t + {TOLERANCE_S + 1}": ts + TOLERANCE_S + 1,
        f"now = t - {TOLERANCE_S} (exactly at the tolerance, from the future)": ts - TOLERANCE_S,
        f"now = t - {TOLERANCE_S + 1} (from the future)": ts - TOLERANCE_S - 1,
        "now = t - 1 day (from the future)": ts - DAY_S,
    }
    return [case(name, headers, judge(now), judged_by, now=now) for name, now in nows.items()]


def returns(fn, *args, **kwargs) -> bool:
    """Whether a verifier accepts: it returns without raising, and not False."""
    try:
        return fn(*args, **kwargs) is not False
    except Exception:  # any refusal will do
        return False


def expect_error(fn, *args, **kwargs):
    try:
        result = fn(*args, **kwargs)
    except Exception:  # any refusal will do
        return
    if result is False:
        return
    raise AssertionError(f"{fn.__qualname__} accepted what it should refuse")


# --------------------------------------------------------------------------- node

NODE_CHECK = r"""
import '@shopify/shopify-api/adapters/web-api';
import { shopifyApi, LogSeverity } from '@shopify/shopify-api';
import { verify } from '@octokit/webhooks-methods';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const verdicts = [];
for (const c of JSON.parse(input)) {
  if (c.lib === 'octokit') {
    verdicts.push(c.signature !== null && (await verify(c.secret, c.body, c.signature)));
    continue;
  }
  const shopify = shopifyApi({
    apiKey: 'herald-vectors', apiSecretKey: c.secret, scopes: [], hostName: 'herald.example',
    apiVersion: '2025-01', isEmbeddedApp: false,
    logger: { level: LogSeverity.Error, log: async () => {} },
  });
  const rawRequest = new Request('https://herald.example/webhooks/shopify',
    { method: 'POST', headers: c.headers, body: c.body });
  const result = await shopify.webhooks.validate({ rawBody: c.body, rawRequest });
  verdicts.push(result.valid === true);
}
process.stdout.write(JSON.stringify(verdicts));
"""


def node_prefix() -> Path:
    """Where NODE_PACKAGES are installed (installing them there first if needed)."""
    default = Path.home() / ".cache" / "herald-vectors" / "node"
    prefix = Path(os.environ.get("HERALD_VECTORS_NODE_PREFIX", default))

    def installed(package):
        manifest = prefix / "node_modules" / package / "package.json"
        return manifest.exists() and json.loads(manifest.read_text())["version"]

    wanted = [f"{p}@{v}" for p, v in NODE_PACKAGES.items() if installed(p) != v]
    if wanted:
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--silent", *wanted],
                       check=True)
    return prefix


def node_verdicts(checks) -> list:
    """Runs checks through the Node libraries: {"lib": "octokit", secret, body, signature} or
    {"lib": "shopify", secret, body, headers}; returns one verdict each."""
    run = subprocess.run(["node", "--input-type=module", "-e", NODE_CHECK], cwd=node_prefix(),
                         input=json.dumps(checks), capture_output=True, text=True, check=True)
    verdicts = json.loads(run.stdout)
    assert len(verdicts) == len(checks) and all(isinstance(v, bool) for v in verdicts), run
    return verdicts


def octokit_check(secret, body, headers):
    signature = next((v for n, v in headers if n.lower() == "x-hub-signature-256"), None)
    return {"lib": "octokit", "secret": secret, "body": body, "signature": signature}


def shopify_docs_verify(secret: str, data: bytes, hmac_header: str) -> bool:
    """`verify_webhook` from Shopify's docs ("Verify a webhook", Python), keyed by `secret`."""
    digest = hmac.new(secret.encode("utf-8"), data, digestmod=hashlib.sha256).digest()
    computed_hmac = base64.b64encode(digest)
    return hmac.compare_digest(computed_hmac, hmac_header.encode("utf-8"))


def shopify_check(secret, body, headers):
    return {"lib": "shopify", "secret": secret, "body": body, "headers": [list(pair) for pair in headers]}
