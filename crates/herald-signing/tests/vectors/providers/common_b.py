"""Helpers shared by catalogue_b's provider modules: the shape of a vector and of a case,
judging variants in one batch, header edits, and the Node side (NODE_SCRIPT: Twitch's docs'
example, @zoom/rivet and the whatsapp SDK) with its runner.

The Node packages (NODE_PACKAGES) are installed with npm into $HERALD_VECTORS_NODE_B_PREFIX
(default ~/.cache/herald-vectors/node-b) when absent, and NODE_SCRIPT is written there as
catalogue_b.mjs; Node 18+.
"""

import json
import os
import subprocess
from pathlib import Path

NODE_PACKAGES = {"@zoom/rivet": "0.4.0", "whatsapp": "0.0.5-Alpha"}
DAY_S = 86_400

# Variants that official sources judge differently: left out of the file, listed at the end.
DISAGREEMENTS = []


# --------------------------------------------------------------------------- shapes


def case(name, accepted, judged_by, *, headers, secret=None, now=None, body=None, url=None):
    """A variant of a vector's request (None: the vector's own), with the official verdict."""
    return {
        "name": name,
        "headers": [list(pair) for pair in headers],
        "secret": secret,
        "now": now,
        "url": url,
        "body": body,
        "accepted": accepted,
        "judged_by": judged_by,
    }


def vector(name, scheme, secret, wrong, ts, body, headers, signature_header, produced_by, cases, handshake=None):
    return {
        "name": name,
        "scheme": scheme,
        "secret": secret,
        "wrong_secret": wrong,
        "timestamp": ts,
        "method": "POST",
        "url": None,
        "body": body,
        "headers": [list(pair) for pair in headers],
        "signature_header": signature_header,
        "produced_by": produced_by,
        "handshake": handshake,
        "cases": cases,
    }


def judged_cases(variants, judge_many, judged_by, *, headers, secret, now, body):
    """Each variant {name, headers?, secret?, now?, body?, expect?} judged (in one batch) by
    `judge_many([{headers, secret, now, body}, ...])`. `expect` is only a tripwire: a library
    that surprises stops the run, so the notes can be checked against it."""
    full = []
    for v in variants:
        full.append({
            "headers": [tuple(p) for p in v.get("headers", headers)],
            "secret": v.get("secret") or secret,
            "now": v["now"] if v.get("now") is not None else now,
            "body": v["body"] if v.get("body") is not None else body,
        })
    verdicts = judge_many(full)
    out = []
    for v, verdict in zip(variants, verdicts, strict=True):
        assert isinstance(verdict, bool), (v["name"], verdict)
        if v.get("expect") is not None and verdict != v["expect"]:
            raise AssertionError(f"{judged_by}: {v['name']!r} judged {verdict}, expected {v['expect']}")
        out.append(case(v["name"], verdict, judged_by, headers=v.get("headers", headers), secret=v.get("secret"),
                        now=v.get("now"), body=v.get("body")))
    return out


def one_by_one(judge):
    return lambda requests_: [judge(**r) for r in requests_]


def edge_variants(ts, tolerance, *, future_refused=True):
    """The tolerance's edges, exactly at it and one second beyond, each way, and a day ahead."""
    return [
        {"name": f"now = t + {tolerance} (exactly at the tolerance)", "now": ts + tolerance, "expect": True},
        {"name": f"now = t + {tolerance + 1}", "now": ts + tolerance + 1, "expect": False},
        {"name": f"now = t - {tolerance} (exactly at the tolerance, from the future)", "now": ts - tolerance,
         "expect": True},
        {"name": f"now = t - {tolerance + 1} (from the future)", "now": ts - tolerance - 1,
         "expect": not future_refused},
        {"name": "now = t - 1 day (from the future)", "now": ts - DAY_S, "expect": not future_refused},
    ]


def replace_header(headers, name, value):
    return [(n, value if n.lower() == name.lower() else v) for n, v in headers]


def drop_header(headers, name):
    return [(n, v) for n, v in headers if n.lower() != name.lower()]


def rename_headers(headers, how):
    return [(how(n), v) for n, v in headers]


def compact(obj, *, ascii_only=False):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=ascii_only)


# --------------------------------------------------------------------------- node

NODE_SCRIPT = r"""
// The Node side of catalogue_b.py (written here from providers/common_b.py; edit it there).
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { AwsLambdaReceiver } from '@zoom/rivet/users';

const require = createRequire(import.meta.url);
// The package only exports its WhatsApp class; its signer lives in build/utils.js.
const { generateXHub256Sig } = require(fileURLToPath(new URL('./node_modules/whatsapp/build/utils.js', import.meta.url)));

// rivet logs every event with console.debug: keep stdout for the verdicts.
for (const k of ['log', 'debug', 'info', 'warn', 'error']) console[k] = () => {};

// ---- Twitch's docs, "Verifying the event message" (Node example): constants and the three
// functions as published; getSecret() is replaced by the check's secret.
const TWITCH_MESSAGE_ID = 'Twitch-Eventsub-Message-Id'.toLowerCase();
const TWITCH_MESSAGE_TIMESTAMP = 'Twitch-Eventsub-Message-Timestamp'.toLowerCase();
const TWITCH_MESSAGE_SIGNATURE = 'Twitch-Eventsub-Message-Signature'.toLowerCase();
const MESSAGE_TYPE = 'Twitch-Eventsub-Message-Type'.toLowerCase();
const MESSAGE_TYPE_VERIFICATION = 'webhook_callback_verification';
const HMAC_PREFIX = 'sha256=';

function getHmacMessage(request) {
    return (request.headers[TWITCH_MESSAGE_ID] +
        request.headers[TWITCH_MESSAGE_TIMESTAMP] +
        request.body);
}

function getHmac(secret, message) {
    return crypto.createHmac('sha256', secret)
    .update(message)
    .digest('hex');
}

function verifyMessage(hmac, verifySignature) {
    return crypto.timingSafeEqual(Buffer.from(hmac), Buffer.from(verifySignature));
}

// What Express hands the docs' handler: Node's lower-cased header names (repeats joined with
// ", ") and, under express.raw({type: 'application/json'}), the body as a Buffer.
function twitchRequest(headers, body) {
  const h = {};
  for (const [n, v] of headers) {
    const k = n.toLowerCase();
    h[k] = k in h ? `${h[k]}, ${v}` : v;
  }
  return { headers: h, body: Buffer.from(body, 'utf8') };
}

function twitchSign(c) {
  const request = twitchRequest([[TWITCH_MESSAGE_ID, c.id], [TWITCH_MESSAGE_TIMESTAMP, c.timestamp]], c.body);
  return { signature: HMAC_PREFIX + getHmac(c.secret, getHmacMessage(request)) };
}

function twitchCheck(c) {
  const req = twitchRequest(c.headers, c.body);
  let signed;
  try {
    const message = getHmacMessage(req);
    const hmac = HMAC_PREFIX + getHmac(c.secret, message);
    signed = true === verifyMessage(hmac, req.headers[TWITCH_MESSAGE_SIGNATURE]);
  } catch (e) {
    signed = false;  // timingSafeEqual throws on a length mismatch (Express answers 500)
  }
  // EventSub's docs, "Guarding against replay attacks": refuse a message whose timestamp is
  // older than 10 minutes. Nothing is said of timestamps ahead of the clock.
  const realNow = Date.now;
  Date.now = () => c.now * 1000;
  let fresh;
  try {
    fresh = !(Date.now() - Date.parse(req.headers[TWITCH_MESSAGE_TIMESTAMP]) > 10 * 60 * 1000);
  } finally {
    Date.now = realNow;
  }
  let reply = null;
  if (signed && fresh && req.headers[MESSAGE_TYPE] === MESSAGE_TYPE_VERIFICATION) {
    // res.set('Content-Type', 'text/plain').status(200).send(notification.challenge);
    reply = JSON.parse(req.body).challenge;
  }
  return { signed, fresh, accepted: signed && fresh, reply };
}

// ---- Zoom: the docs' signing computation; @zoom/rivet's receiver judges.
function zoomSign(c) {
  const message = `v0:${c.timestamp}:${c.body}`;
  const hashForVerify = crypto.createHmac('sha256', c.secret).update(message).digest('hex');
  const plainToken = c.plainToken;
  const encryptedToken = plainToken == null ? null :
    crypto.createHmac('sha256', c.secret).update(plainToken).digest('hex');
  return { signature: `v0=${hashForVerify}`, encryptedToken };
}

async function zoomCheck(c) {
  const handler = new AwsLambdaReceiver({ webhooksSecretToken: c.secret }).start();
  const res = await handler({ body: c.body, headers: Object.fromEntries(c.headers), isBase64Encoded: false }, {});
  let roundtrip;
  try { roundtrip = JSON.stringify(JSON.parse(c.body)) === c.body; } catch (e) { roundtrip = false; }
  return { accepted: res.statusCode === 200, status: res.statusCode, reply: res.body,
           contentType: res.headers['Content-Type'], roundtrip };
}

// ---- Meta: the WhatsApp SDK's signer, and the comparison of its WebhooksAPI.start() (whose
// request reader is broken in 0.0.5-Alpha: Buffer.concat over a string), on Node's headers.
function whatsappSign(c) {
  return { signature: 'sha256=' + generateXHub256Sig(c.body, c.secret) };
}

function whatsappCheck(c) {
  const headers = {};
  for (const [n, v] of c.headers) headers[n.toLowerCase()] = v;
  if (!headers['x-hub-signature-256']) return { accepted: false };  // not handled: no 200
  const xHubSignature = headers['x-hub-signature-256'].toString().replace('sha256=', '');
  const generatedSignature = generateXHub256Sig(c.body, c.secret);
  return { accepted: generatedSignature == xHubSignature };
}

const kinds = { twitchSign, twitchCheck, zoomSign, zoomCheck, whatsappSign, whatsappCheck };
let input = '';
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const c of JSON.parse(input)) results.push(await kinds[c.kind](c));
process.stdout.write(JSON.stringify(results));
"""


def node_script() -> Path:
    """The Node side, with NODE_PACKAGES installed beside it (installing them first if needed)."""
    default = Path.home() / ".cache" / "herald-vectors" / "node-b"
    prefix = Path(os.environ.get("HERALD_VECTORS_NODE_B_PREFIX", default))

    def installed(package):
        manifest = prefix / "node_modules" / package / "package.json"
        return manifest.exists() and json.loads(manifest.read_text())["version"]

    wanted = [f"{p}@{v}" for p, v in NODE_PACKAGES.items() if installed(p) != v]
    if wanted:
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--silent", *wanted],
                       check=True)
    script = prefix / "catalogue_b.mjs"
    if not script.exists() or script.read_text() != NODE_SCRIPT:
        script.write_text(NODE_SCRIPT)
    return script


def node(checks) -> list:
    script = node_script()
    run = subprocess.run(["node", str(script)], cwd=script.parent, input=json.dumps(checks),
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"node failed: {run.stderr}")
    results = json.loads(run.stdout)
    assert len(results) == len(checks), run
    return results
