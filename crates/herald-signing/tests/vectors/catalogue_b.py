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

The Node packages (NODE_PACKAGES) are installed with npm into $HERALD_VECTORS_NODE_B_PREFIX
(default ~/.cache/herald-vectors/node-b) when absent, together with this script's Node side
(NODE_SCRIPT, written there as catalogue_b.mjs); Node 18+.

Secrets, bodies and timestamps are fixed, so a rerun with the same versions writes the same
file byte for byte. Verifiers that read a clock are given the vector's timestamp as "now", or
the case's, patched for the duration of the check only.
"""

import base64
import hashlib
import hmac
import importlib.metadata
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

import mailgun.security
import nacl.signing
import openai.lib._webhooks as openai_webhooks
import requests.auth
import standardwebhooks.webhooks as swh
import urllib3.util
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from mailgun.security import SecurityGuard
from openai import OpenAI
from svix.webhooks import Webhook as SvixWebhook

from support import bare, derived, returns, whsec

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


def header(headers, name):
    return next(v for n, v in headers if n.lower() == name.lower())


def compact(obj, *, ascii_only=False):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=ascii_only)


# --------------------------------------------------------------------------- node

NODE_SCRIPT = r"""
// The Node side of catalogue_b.py (written here by it; edit it there).
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


# --------------------------------------------------------------------------- twitch

TWITCH_JUDGE = ("Twitch docs' Node example (verifyMessage over getHmacMessage, Node crypto) and the docs' "
                "replay rule (refuse if older than 10 minutes), no official library")
TWITCH_WINDOW_S = 600


def rfc3339_seconds(text: str) -> int:
    """The whole UNIX seconds of an RFC 3339 UTC time with any fraction (floor)."""
    whole = text.rstrip("Z").split(".")[0]
    return int(datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp())


def twitch_judge_many(requests_):
    results = node([{"kind": "twitchCheck", "secret": r["secret"], "headers": r["headers"], "body": r["body"],
                     "now": r["now"]} for r in requests_])
    return [r["accepted"] for r in results]


def twitch_vector(name, secret, wrong, msg_id, stamp, msg_type, sub_type, body):
    [signed] = node([{"kind": "twitchSign", "secret": secret, "id": msg_id, "timestamp": stamp, "body": body}])
    signature = signed["signature"]
    assert signature == "sha256=" + hmac.new(secret.encode(), (msg_id + stamp + body).encode(), hashlib.sha256).hexdigest()
    ts = rfc3339_seconds(stamp)
    headers = [
        ("Twitch-Eventsub-Message-Id", msg_id),
        ("Twitch-Eventsub-Message-Retry", "0"),
        ("Twitch-Eventsub-Message-Type", msg_type),
        ("Twitch-Eventsub-Message-Signature", signature),
        ("Twitch-Eventsub-Message-Timestamp", stamp),
        ("Twitch-Eventsub-Subscription-Type", sub_type),
        ("Twitch-Eventsub-Subscription-Version", "2"),
        ("Content-Type", "application/json"),
    ]
    [own] = node([{"kind": "twitchCheck", "secret": secret, "headers": headers, "body": body, "now": ts}])
    assert own["accepted"], own
    hex_part = signature.removeprefix("sha256=")
    millis = stamp.split(".")[0] + "." + (stamp.split(".")[1].rstrip("Z") + "000")[:3] + "Z"
    variants = [
        {"name": "wrong secret", "secret": wrong, "expect": False},
        {"name": "tampered body (one more space)", "body": body + " ", "expect": False},
        *edge_variants(ts, TWITCH_WINDOW_S, future_refused=False),
        {"name": "header names lower-case", "headers": rename_headers(headers, str.lower), "expect": True},
        {"name": "header names upper-case", "headers": rename_headers(headers, str.upper), "expect": True},
        {"name": "signature hex in upper case",
         "headers": replace_header(headers, "Twitch-Eventsub-Message-Signature", "sha256=" + hex_part.upper()),
         "expect": False},
        {"name": "signature without sha256=",
         "headers": replace_header(headers, "Twitch-Eventsub-Message-Signature", hex_part), "expect": False},
        {"name": "timestamp header rewritten to milliseconds (same instant, other text)",
         "headers": replace_header(headers, "Twitch-Eventsub-Message-Timestamp", millis), "expect": False},
        {"name": "another message id",
         "headers": replace_header(headers, "Twitch-Eventsub-Message-Id", msg_id[:-1] + "0"), "expect": False},
        {"name": "no signature header", "headers": drop_header(headers, "Twitch-Eventsub-Message-Signature"),
         "expect": False},
    ]
    cases = judged_cases(variants, twitch_judge_many, TWITCH_JUDGE, headers=headers, secret=secret, now=ts, body=body)
    handshake = None
    if msg_type == "webhook_callback_verification":
        assert own["reply"] == json.loads(body)["challenge"]
        handshake = {"content_type": "text/plain", "body": own["reply"]}
    else:
        assert own["reply"] is None
    return vector(name, "twitch", secret, wrong, ts, body, headers, "twitch-eventsub-message-signature",
                  "Twitch docs' Node example (getHmac over getHmacMessage, Node crypto), checked by its "
                  "verifyMessage and the docs' 10-minute replay rule; no official library", cases, handshake)


def twitch_vectors():
    secret = derived("twitch", 20).hex()
    wrong = derived("twitch wrong", 20).hex()
    subscription = {
        "id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4",
        "status": "enabled",
        "type": "channel.follow",
        "version": "2",
        "condition": {"broadcaster_user_id": "1337", "moderator_user_id": "1337"},
        "transport": {"method": "webhook", "callback": "https://hooks.example.com/in/src_twitch"},
        "created_at": "2023-11-14T21:50:00.634234626Z",
        "cost": 0,
    }
    notification = compact({
        "subscription": subscription,
        "event": {
            "user_id": "1234",
            "user_login": "cool_user",
            "user_name": "クールなユーザー",
            "broadcaster_user_id": "1337",
            "broadcaster_user_login": "cooler_user",
            "broadcaster_user_name": "Cooler_User",
            "followed_at": "2023-11-14T22:13:19.987654321Z",
        },
    })
    verification = compact({
        "challenge": "pogchamp-kappa-360noscope-vohiyo",
        "subscription": dict(subscription, status="webhook_callback_verification_pending"),
    })
    revocation = compact({"subscription": dict(subscription, status="authorization_revoked")})
    return [
        twitch_vector("twitch notification (channel.follow, non-ASCII user name)", secret, wrong,
                      "befa7b53-d79d-478f-86b9-120f112b044e", "2023-11-14T22:13:20.123456789Z", "notification",
                      "channel.follow", notification),
        twitch_vector("twitch webhook_callback_verification", secret, wrong,
                      "e76c6bd4-55c9-4987-8304-da1588d8988b", "2023-11-14T21:50:00.999999999Z",
                      "webhook_callback_verification", "channel.follow", verification),
        twitch_vector("twitch revocation (short fraction)", secret, wrong,
                      "84c1e79a-2a4b-4c13-ba0b-4312293e9308", "2023-11-14T23:13:20.50215Z", "revocation",
                      "channel.follow", revocation),
    ]


# --------------------------------------------------------------------------- zoom

ZOOM_JUDGE = "@zoom/rivet AwsLambdaReceiver (CommonHttpRequest.isEventVerified)"


def zoom_checks(requests_):
    results = node([{"kind": "zoomCheck", "secret": r["secret"], "headers": r["headers"], "body": r["body"]}
                    for r in requests_])
    # rivet signs JSON.stringify(JSON.parse(body)): only bodies it re-serialises byte for byte
    # give a verdict that is also the raw body's.
    assert all(r["roundtrip"] for r in results), results
    return results


def zoom_vector(name, secret, wrong, ts, body):
    plain = json.loads(body)["payload"].get("plainToken")
    [signed] = node([{"kind": "zoomSign", "secret": secret, "timestamp": str(ts), "body": body, "plainToken": plain}])
    signature = signed["signature"]
    assert signature == "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = [
        ("x-zm-request-timestamp", str(ts)),
        ("x-zm-signature", signature),
        ("content-type", "application/json; charset=utf-8"),
        ("user-agent", "Zoom Marketplace/1.0a"),
        ("x-zm-trackingid", "v=2.0;clid=us06;rid=WEB_" + derived(name, 16).hex()),
    ]
    [own] = zoom_checks([{"secret": secret, "headers": headers, "body": body}])
    assert own["accepted"], own
    tampered = body.replace('"event_ts":1', '"event_ts":2', 1)
    assert tampered != body
    hex_part = signature.removeprefix("v0=")
    variants = [
        {"name": "wrong secret", "secret": wrong, "expect": False},
        {"name": "tampered body (event_ts changed)", "body": tampered, "expect": False},
        {"name": "header names in title case",
         "headers": rename_headers(headers, lambda n: "-".join(p.capitalize() for p in n.split("-"))), "expect": True},
        {"name": "header names upper-case", "headers": rename_headers(headers, str.upper), "expect": True},
        {"name": "signature hex in upper case",
         "headers": replace_header(headers, "x-zm-signature", "v0=" + hex_part.upper()), "expect": False},
        {"name": "unknown version v1=", "headers": replace_header(headers, "x-zm-signature", "v1=" + hex_part),
         "expect": False},
        {"name": "timestamp header one second later",
         "headers": replace_header(headers, "x-zm-request-timestamp", str(ts + 1)), "expect": False},
    ]
    cases = judged_cases(variants, lambda rs: [r["accepted"] for r in zoom_checks(rs)], ZOOM_JUDGE,
                         headers=headers, secret=secret, now=ts, body=body)
    handshake = None
    if plain is not None:
        handshake_body = compact({"plainToken": plain, "encryptedToken": signed["encryptedToken"]})
        assert json.loads(own["reply"]) == json.loads(handshake_body), (own["reply"], handshake_body)
        assert own["contentType"] == "application/json"
        handshake = {"content_type": "application/json", "body": handshake_body}
    return vector(name, "zoom", secret, wrong, ts, body, headers, "x-zm-signature",
                  "Zoom docs' signing computation (HMAC-SHA256 hex of v0:{timestamp}:{body}, Node crypto), "
                  "checked by @zoom/rivet AwsLambdaReceiver" + (" (its url_validation reply equals the docs')"
                                                              if plain else ""), cases, handshake)


def zoom_vectors():
    secret = base64.urlsafe_b64encode(derived("zoom", 16)).decode().rstrip("=")
    wrong = base64.urlsafe_b64encode(derived("zoom wrong", 16)).decode().rstrip("=")
    started = compact({
        "event": "meeting.started",
        "payload": {
            "account_id": "D8cJuqWVQ623CI4Q8yQK0Q",
            "object": {
                "id": "93479258421",
                "uuid": "4444AAAiAAAAAiAiAiiAii==",
                "host_id": "x1yCzABCDEfg23HiJKl4mN",
                "topic": "Réunion d'équipe — point hebdo",
                "type": 2,
                "start_time": "2023-11-14T22:15:00Z",
                "timezone": "Europe/Paris",
                "duration": 60,
            },
        },
        "event_ts": 1700000100123,
    })
    validation = compact({"payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}, "event_ts": 1700000200456,
                          "event": "endpoint.url_validation"})
    return [
        zoom_vector("zoom meeting.started (non-ASCII topic)", secret, wrong, 1700000100, started),
        zoom_vector("zoom endpoint.url_validation", secret, wrong, 1700000200, validation),
    ]


# --------------------------------------------------------------------------- meta

META_JUDGE = ("whatsapp (Meta's WhatsApp Node.js SDK) WebhooksAPI comparison with utils.generateXHub256Sig, "
              "and Meta's docs rule (sha256= + hex HMAC-SHA256 of the raw body) agreeing")


def meta_docs_accepts(secret, body, headers):
    value = next((v for n, v in headers if n.lower() == "x-hub-signature-256"), None)
    if value is None:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, value)


def meta_judge_many(requests_):
    results = node([{"kind": "whatsappCheck", "secret": r["secret"], "headers": r["headers"], "body": r["body"]}
                    for r in requests_])
    verdicts = []
    for r, res in zip(requests_, results, strict=True):
        by_docs = meta_docs_accepts(r["secret"], r["body"], r["headers"])
        assert by_docs == res["accepted"], (r, res)
        verdicts.append(by_docs)
    return verdicts


def meta_vector(name, secret, wrong, body, *, decoded=None):
    [signed] = node([{"kind": "whatsappSign", "secret": secret, "body": body}])
    signature = signed["signature"]
    sha1 = "sha1=" + hmac.new(secret.encode(), body.encode(), hashlib.sha1).hexdigest()
    headers = [
        ("Content-Type", "application/json"),
        ("User-Agent", "facebookexternalua"),
        ("X-Hub-Signature", sha1),
        ("X-Hub-Signature-256", signature),
    ]
    assert meta_judge_many([{"secret": secret, "headers": headers, "body": body}]) == [True]
    hex_part = signature.removeprefix("sha256=")
    variants = [
        {"name": "wrong secret", "secret": wrong, "expect": False},
        {"name": "tampered body (one more space)", "body": body + " ", "expect": False},
        {"name": "header names lower-case", "headers": rename_headers(headers, str.lower), "expect": True},
        {"name": "signature hex in upper case",
         "headers": replace_header(headers, "X-Hub-Signature-256", "sha256=" + hex_part.upper()), "expect": False},
        {"name": "X-Hub-Signature-256 carrying sha1= and the right hex",
         "headers": replace_header(headers, "X-Hub-Signature-256", "sha1=" + hex_part), "expect": False},
        {"name": "only X-Hub-Signature (sha1, valid), no X-Hub-Signature-256",
         "headers": drop_header(headers, "X-Hub-Signature-256"), "expect": False},
    ]
    if decoded is not None:
        variants.append({"name": "the same JSON with Meta's \\u escapes decoded to UTF-8", "body": decoded,
                         "expect": False})
    cases = judged_cases(variants, meta_judge_many, META_JUDGE, headers=headers, secret=secret, now=None, body=body)
    return vector(name, "meta", secret, wrong, None, body, headers, "x-hub-signature-256",
                  "whatsapp 0.0.5-Alpha (Meta's WhatsApp Node.js SDK) utils.generateXHub256Sig, checked by the "
                  "comparison of its WebhooksAPI and by Meta's docs rule", cases)


def meta_escape(obj) -> str:
    """JSON as Meta sends it: non-ASCII as \\uXXXX (lower-case hex), and / and @ escaped too."""
    return compact(obj, ascii_only=True).replace("/", "\\/").replace("@", "\\u0040")


def meta_vectors():
    secret = derived("meta app secret", 16).hex()
    wrong = derived("meta app secret wrong", 16).hex()
    message = {
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                    "contacts": [{"profile": {"name": "José Gonçalves"}, "wa_id": "351912345678"}],
                    "messages": [{
                        "from": "351912345678",
                        "id": "wamid.HBgMMzUxOTEyMzQ1Njc4FQIAEhgUM0E0QjY1OTlBRUUwMzgxMDE0NEYA",
                        "timestamp": "1700000300",
                        "text": {"body": "Olá! Mesa para 2 às 20h 👋 https://example.com/r?id=42 reservas@example.com"},
                        "type": "text",
                    }],
                },
                "field": "messages",
            }],
        }],
    }
    comment = {
        "object": "instagram",
        "entry": [{
            "id": "17841405309211844",
            "time": 1700000400,
            "changes": [{
                "field": "comments",
                "value": {
                    "from": {"id": "6543210987654321", "username": "zoe.photo"},
                    "media": {"id": "17912345678901234", "media_product_type": "FEED"},
                    "id": "17865799348089039",
                    "text": "Magnifique 😍 — où est-ce ?",
                },
            }],
        }],
    }
    return [
        meta_vector("meta whatsapp text message (non-ASCII, escaped as Meta sends it)", secret, wrong,
                    meta_escape(message), decoded=compact(message)),
        meta_vector("meta instagram comment, raw UTF-8 body", derived("meta ig secret", 16).hex(),
                    derived("meta ig secret wrong", 16).hex(), compact(comment)),
    ]


# --------------------------------------------------------------------------- intercom

INTERCOM_JUDGE = ("Intercom docs 'Signed notifications' (sha1= + hex HMAC-SHA1 of the body keyed by the client "
                  "secret), compared with hmac.compare_digest; no official verifier")


def intercom_accepts(secret, body, headers, now):
    value = next((v for n, v in headers if n.lower() == "x-hub-signature"), None)
    if value is None:
        return False
    expected = "sha1=" + hmac.new(secret.encode(), body.encode(), hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected, value)


def intercom_vector(name, secret, wrong, body):
    signature = "sha1=" + hmac.new(secret.encode(), body.encode(), hashlib.sha1).hexdigest()
    headers = [
        ("User-Agent", "intercom-parrot-service-client/1.0"),
        ("X-Hub-Signature", signature),
        ("Accept", "application/json"),
        ("Content-Type", "application/json"),
    ]
    assert intercom_accepts(secret, body, headers, None)
    hex_part = signature.removeprefix("sha1=")
    sha256 = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    variants = [
        {"name": "wrong secret", "secret": wrong, "expect": False},
        {"name": "tampered body (one more space)", "body": body + " ", "expect": False},
        {"name": "header name lower-case", "headers": rename_headers(headers, str.lower), "expect": True},
        {"name": "signature hex in upper case",
         "headers": replace_header(headers, "X-Hub-Signature", "sha1=" + hex_part.upper()), "expect": False},
        {"name": "signature without sha1=", "headers": replace_header(headers, "X-Hub-Signature", hex_part),
         "expect": False},
        {"name": "sha256= and the HMAC-SHA256 instead",
         "headers": replace_header(headers, "X-Hub-Signature", "sha256=" + sha256), "expect": False},
    ]
    cases = judged_cases(variants, one_by_one(intercom_accepts), INTERCOM_JUDGE, headers=headers, secret=secret,
                         now=None, body=body)
    return vector(name, "intercom", secret, wrong, None, body, headers, "x-hub-signature",
                  "Intercom docs 'Signed notifications' computation (Python hmac, SHA-1, hex, sha1= prefix); "
                  "no official library verifies", cases)


def intercom_secret(label):
    h = derived(label, 16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def intercom_vectors():
    created = compact({
        "type": "notification_event",
        "app_id": "a86dr8yl",
        "data": {
            "type": "notification_event_data",
            "item": {
                "type": "conversation",
                "id": "147",
                "created_at": 1700000500,
                "updated_at": 1700000500,
                "source": {
                    "type": "conversation",
                    "delivered_as": "customer_initiated",
                    "body": "<p>Hallo, können Sie mir bei der Rechnung helfen?</p>",
                    "author": {"type": "user", "id": "6548d4f1a4bd2f0d1a3b8c01", "name": "Jürgen Weiß"},
                },
                "state": "open",
            },
        },
        "links": {},
        "id": "notif_4b8f9f6e-2c8a-4b7e-9d0e-1a2b3c4d5e6f",
        "topic": "conversation.user.created",
        "delegated_by": None,
        "delivery_status": "pending",
        "delivery_attempts": 1,
        "delivered_at": 0,
        "first_sent_at": 1700000500,
        "created_at": 1700000500,
        "self": None,
    })
    ping = compact({
        "type": "notification_event",
        "app_id": "a86dr8yl",
        "data": {"type": "notification_event_data", "item": {"type": "ping", "message": "something something interzen"}},
        "links": {},
        "id": None,
        "topic": "ping",
        "delegated_by": None,
        "delivery_status": None,
        "delivery_attempts": 1,
        "delivered_at": 0,
        "first_sent_at": 1700000700,
        "created_at": 1700000700,
        "self": None,
    })
    return [
        intercom_vector("intercom conversation.user.created (non-ASCII)", intercom_secret("intercom"),
                        intercom_secret("intercom wrong"), created),
        intercom_vector("intercom ping", intercom_secret("intercom ping"), intercom_secret("intercom ping wrong"), ping),
    ]


# --------------------------------------------------------------------------- mailgun

MAILGUN_TOLERANCE_S = 300
MAILGUN_JUDGE = "mailgun SecurityGuard.verify_webhook(max_age_seconds=300)"


@contextmanager
def mailgun_clock(now: int):
    with mock.patch.object(mailgun.security, "time", mock.Mock(time=lambda: float(now))):
        yield


def mailgun_accepts(secret, body, headers, now):
    try:
        sig = json.loads(body)["signature"]
        token, timestamp, signature = sig["token"], sig["timestamp"], sig["signature"]
    except (ValueError, KeyError, TypeError):
        return False
    with mailgun_clock(now):
        return returns(SecurityGuard.verify_webhook, secret, token, timestamp, signature,
                       max_age_seconds=MAILGUN_TOLERANCE_S)


def mailgun_docs_signature(signing_key, timestamp, token):
    """Mailgun's docs ("Securing webhooks", Python): hex HMAC-SHA256 of timestamp + token."""
    return hmac.new(key=signing_key.encode(), msg=("{}{}".format(timestamp, token)).encode(),
                    digestmod=hashlib.sha256).hexdigest()


def mailgun_vector(name, secret, wrong, ts, token, event_data):
    signature = mailgun_docs_signature(secret, str(ts), token)

    def make(sig_fields, data=event_data):
        return json.dumps({"signature": sig_fields, "event-data": data}, ensure_ascii=False)

    fields = {"token": token, "timestamp": str(ts), "signature": signature}
    body = make(fields)
    headers = [("Content-Type", "application/json"), ("User-Agent", "mailgun/treq-16.12.0")]
    assert mailgun_accepts(secret, body, headers, ts)
    with mailgun_clock(ts):
        # The library's own default window, for the notes.
        assert SecurityGuard.verify_webhook(secret, token, str(ts), signature, max_age_seconds=900)
        assert not SecurityGuard.verify_webhook(secret, token, str(ts + 901), signature)
    other_data = dict(event_data, recipient="mallory@example.net")
    variants = [
        {"name": "wrong secret", "secret": wrong, "expect": False},
        *edge_variants(ts, MAILGUN_TOLERANCE_S),
        {"name": "event-data altered (it is not signed)", "body": make(fields, other_data), "expect": True},
        {"name": "token altered", "body": make(dict(fields, token=token[:-1] + "0")), "expect": False},
        {"name": "timestamp one second later in the body, same signature",
         "body": make(dict(fields, timestamp=str(ts + 1))), "expect": False},
        {"name": "signature hex in upper case", "body": make(dict(fields, signature=signature.upper())),
         "expect": False},
        {"name": "signature of another signing key",
         "body": make(dict(fields, signature=mailgun_docs_signature(wrong, str(ts), token))), "expect": False},
    ]
    cases = judged_cases(variants, one_by_one(mailgun_accepts), MAILGUN_JUDGE, headers=headers, secret=secret,
                         now=ts, body=body)
    return vector(name, "mailgun", secret, wrong, ts, body, headers, None,
                  "Mailgun docs' computation (hex HMAC-SHA256 of timestamp + token), checked by mailgun "
                  "SecurityGuard.verify_webhook", cases)


def mailgun_vectors():
    delivered = {
        "event": "delivered",
        "id": "CPgfbmQMTCKtHW6uIWtuVe",
        "timestamp": 1700000599.421783,
        "log-level": "info",
        "recipient": "zoe@example.com",
        "recipient-domain": "example.com",
        "envelope": {"transport": "smtp", "sender": "bob@mg.example.com", "sending-ip": "209.61.154.250",
                     "targets": "zoe@example.com"},
        "message": {
            "headers": {
                "to": "Zoë Martín <zoe@example.com>",
                "message-id": "20231114222319.1.A1B2C3D4E5F6A7B8@mg.example.com",
                "from": "Bob <bob@mg.example.com>",
                "subject": "Votre reçu — commande n° 1234",
            },
            "attachments": [],
            "size": 2113,
        },
        "delivery-status": {"tls": True, "mx-host": "mx.example.com", "code": 250, "description": "",
                            "session-seconds": 0.43, "utf8": True, "attempt-no": 1, "message": "OK",
                            "certificate-verified": True},
        "flags": {"is-routed": False, "is-authenticated": True, "is-system-test": False, "is-test-mode": False},
        "tags": ["receipt"],
        "campaigns": [],
        "user-variables": {},
    }
    failed = {
        "event": "failed",
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": 1700000659.1837,
        "log-level": "error",
        "severity": "permanent",
        "reason": "bounce",
        "recipient": "nobody@example.org",
        "recipient-domain": "example.org",
        "delivery-status": {"code": 550, "message": "5.1.1 The email account that you tried to reach does not exist",
                            "attempt-no": 1, "description": "", "session-seconds": 0.12},
        "message": {"headers": {"to": "nobody@example.org", "message-id": "20231114222419.2.F00D@mg.example.com",
                                "from": "Bob <bob@mg.example.com>", "subject": "Welcome"},
                    "attachments": [], "size": 1024},
        "flags": {"is-routed": False, "is-authenticated": True, "is-system-test": False, "is-test-mode": False},
        "tags": [],
        "campaigns": [],
        "user-variables": {},
    }
    return [
        mailgun_vector("mailgun delivered (non-ASCII)", derived("mailgun", 16).hex(),
                       derived("mailgun wrong", 16).hex(), 1700000600, derived("mailgun token", 25).hex(), delivered),
        mailgun_vector("mailgun failed", derived("mailgun 2", 16).hex(), derived("mailgun 2 wrong", 16).hex(),
                       1700000660, derived("mailgun token 2", 25).hex(), failed),
    ]


# --------------------------------------------------------------------------- pagerduty

PAGERDUTY_JUDGE = "PagerDuty docs' PagerDutyVerifier(key, 'v1').verify (Python example)"


class PagerDutyVerifier:
    """PagerDuty's docs, "Verifying Signatures", Python example, as published."""

    def __init__(self, key: str, version: str) -> None:
        self.key = key
        self.version = version

    def verify(self, payload, signatures) -> bool:
        byte_key = self.key.encode("ASCII")
        signature = hmac.new(byte_key, payload.encode(), hashlib.sha256).hexdigest()
        signed_version = self.version + "=" + signature
        signatures = signatures.split(",")

        # Return boolean indicating whether signed version is legitimate.
        return any(hmac.compare_digest(signed_version, item) for item in signatures)


def go_pagerduty_accepts(secret, body, value):
    """A reading of go-pagerduty webhookv3.VerifySignature (PagerDuty's Go client), to flag the
    variants where PagerDuty's two published verifiers part."""
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    for sv in value.split(","):
        if not sv.startswith("v1="):
            continue
        try:
            sig = bytes.fromhex(sv.removeprefix("v1="))
        except ValueError:
            continue
        if hmac.compare_digest(expected, sig):
            return True
    return False


def pagerduty_accepts(secret, body, headers, now):
    value = next((v for n, v in headers if n.lower() == "x-pagerduty-signature"), None)
    if value is None:
        return False
    by_docs = PagerDutyVerifier(secret, "v1").verify(body, value)
    if by_docs != go_pagerduty_accepts(secret, body, value):
        raise AssertionError(f"pagerduty sources disagree on {value!r}")
    return by_docs


def pd_sig(secret, body):
    return "v1=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def pagerduty_vector(name, secret, wrong, body, *, old=None):
    ours = pd_sig(secret, body)
    value = ours if old is None else f"{pd_sig(old, body)},{ours}"
    headers = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("User-Agent", "PagerDuty-Webhook/V3.0"),
        ("X-PagerDuty-Signature", value),
        ("X-Webhook-Id", "2ae6f5b0-8b2d-4d8b-9b0e-" + derived(name, 6).hex()),
        ("X-Webhook-Subscription", "PY1OQWD"),
    ]
    assert pagerduty_accepts(secret, body, headers, None)
    upper = "v1=" + ours.removeprefix("v1=").upper()
    assert PagerDutyVerifier(secret, "v1").verify(body, upper) is False and go_pagerduty_accepts(secret, body, upper)
    DISAGREEMENTS.append(("pagerduty", name, "signature hex in upper case",
                          "PagerDuty docs (Python, JS): refused; go-pagerduty webhookv3: accepted (hex-decodes)"))
    sig_of = lambda key: pd_sig(key, body)  # noqa: E731
    variants = [
        {"name": "wrong secret", "secret": wrong, "expect": False},
        {"name": "tampered body (one more space)", "body": body + " ", "expect": False},
        {"name": "header name lower-case", "headers": rename_headers(headers, str.lower), "expect": True},
        {"name": "unknown version v2= before ours",
         "headers": replace_header(headers, "X-PagerDuty-Signature", f"v2={sig_of(secret)[3:]},{ours}"),
         "expect": True},
        {"name": "only a v2= entry carrying our HMAC",
         "headers": replace_header(headers, "X-PagerDuty-Signature", f"v2={ours[3:]}"), "expect": False},
        {"name": "a space after the comma before ours",
         "headers": replace_header(headers, "X-PagerDuty-Signature", f"{sig_of(wrong)}, {ours}"), "expect": False},
        {"name": "signature without v1=",
         "headers": replace_header(headers, "X-PagerDuty-Signature", ours[3:]), "expect": False},
    ]
    if old is not None:
        variants.append({"name": "the rotated-out (old) secret still matches its entry", "secret": old,
                         "expect": True})
        variants.append({"name": "only the old entry, checked with the new secret",
                         "headers": replace_header(headers, "X-PagerDuty-Signature", pd_sig(old, body)),
                         "expect": False})
    cases = judged_cases(variants, one_by_one(pagerduty_accepts), PAGERDUTY_JUDGE, headers=headers, secret=secret,
                         now=None, body=body)
    return vector(name, "pagerduty", secret, wrong, None, body, headers, "x-pagerduty-signature",
                  "PagerDuty docs' computation (v1= + hex HMAC-SHA256 of the body), checked by their "
                  "PagerDutyVerifier (Python example), go-pagerduty webhookv3 agreeing; no official Python/JS "
                  "verifier", cases)


def pagerduty_secret(label):
    return base64.b64encode(derived(label, 24)).decode()


def pagerduty_vectors():
    def incident(event_type, status, title, when):
        return compact({
            "event": {
                "id": "01EXAMPLE" + derived(title, 8).hex().upper()[:17],
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": when,
                "agent": {"html_url": "https://acme.pagerduty.com/users/PLH1HKV", "id": "PLH1HKV",
                          "self": "https://api.pagerduty.com/users/PLH1HKV", "summary": "Tenex Engineer",
                          "type": "user_reference"},
                "client": None,
                "data": {
                    "id": "PGR0VU2",
                    "type": "incident",
                    "self": "https://api.pagerduty.com/incidents/PGR0VU2",
                    "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
                    "number": 2,
                    "status": status,
                    "incident_key": "d3640fbd41094207a1c11e58e46b1662",
                    "created_at": "2023-11-14T22:20:00Z",
                    "title": title,
                    "service": {"html_url": "https://acme.pagerduty.com/services/PF9KMXH", "id": "PF9KMXH",
                                "self": "https://api.pagerduty.com/services/PF9KMXH", "summary": "API Service",
                                "type": "service_reference"},
                    "assignees": [{"html_url": "https://acme.pagerduty.com/users/PTUXL6G", "id": "PTUXL6G",
                                   "self": "https://api.pagerduty.com/users/PTUXL6G", "summary": "User 123",
                                   "type": "user_reference"}],
                    "escalation_policy": {"html_url": "https://acme.pagerduty.com/escalation_policies/PUS0KTE",
                                          "id": "PUS0KTE", "self": "https://api.pagerduty.com/escalation_policies/PUS0KTE",
                                          "summary": "Default", "type": "escalation_policy_reference"},
                    "teams": [],
                    "priority": None,
                    "urgency": "high",
                    "conference_bridge": None,
                    "resolve_reason": None,
                },
            }
        })

    return [
        pagerduty_vector("pagerduty incident.triggered (non-ASCII)", pagerduty_secret("pagerduty"),
                         pagerduty_secret("pagerduty wrong"),
                         incident("incident.triggered", "triggered", "Réplica de base de datos caída — São Paulo",
                                  "2023-11-14T22:20:00.123Z")),
        pagerduty_vector("pagerduty rotation, two v1 entries, second matches", pagerduty_secret("pagerduty new"),
                         pagerduty_secret("pagerduty rotation wrong"),
                         incident("incident.resolved", "resolved", "Database replica down", "2023-11-14T22:40:00.456Z"),
                         old=pagerduty_secret("pagerduty old")),
    ]


# --------------------------------------------------------------------------- postmark

POSTMARK_JUDGE = ("HTTP Basic credentials (RFC 7617; scheme name case-insensitive per RFC 9110 11.1): "
                  "base64-decoded and compared whole with the configured user:password; no official verifier")


def basic_auth_header(secret):
    """What an HTTP client makes of https://user:password@host: urllib3 and requests agreeing."""
    user, _, password = secret.partition(":")
    by_urllib3 = urllib3.util.make_headers(basic_auth=secret)["authorization"]
    by_requests = requests.auth._basic_auth_str(user, password)
    assert by_urllib3 == by_requests, (by_urllib3, by_requests)
    return by_urllib3


def postmark_accepts(secret, body, headers, now):
    value = next((v for n, v in headers if n.lower() == "authorization"), None)
    if value is None:
        return False
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except ValueError:
        return False
    return hmac.compare_digest(decoded.encode(), secret.encode())


def postmark_vector(name, secret, wrong, body):
    value = basic_auth_header(secret)
    headers = [("Authorization", value), ("Content-Type", "application/json"), ("User-Agent", "Postmark")]
    assert postmark_accepts(secret, body, headers, None)
    credentials = value.split(" ", 1)[1]
    user = secret.partition(":")[0]
    variants = [
        {"name": "wrong secret", "secret": wrong, "expect": False},
        {"name": "body altered (basic auth does not cover it)", "body": body + " ", "expect": True},
        {"name": "header name lower-case", "headers": rename_headers(headers, str.lower), "expect": True},
        {"name": "scheme spelled basic", "headers": replace_header(headers, "Authorization", "basic " + credentials),
         "expect": True},
        {"name": "Bearer with the same credentials",
         "headers": replace_header(headers, "Authorization", "Bearer " + credentials), "expect": False},
        {"name": "the user name alone",
         "headers": replace_header(headers, "Authorization", basic_auth_header(user + ":")), "expect": False},
        {"name": "no Authorization header", "headers": drop_header(headers, "Authorization"), "expect": False},
    ]
    cases = judged_cases(variants, one_by_one(postmark_accepts), POSTMARK_JUDGE, headers=headers, secret=secret,
                         now=None, body=body)
    return vector(name, "postmark", secret, wrong, None, body, headers, "authorization",
                  "HTTP Basic credentials of the webhook URL (Postmark docs: https://user:password@host), "
                  "built by urllib3 make_headers and requests, agreeing", cases)


def postmark_vectors():
    delivery = compact({
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": "john@example.com",
        "Tag": "welcome-email",
        "DeliveredAt": "2023-11-14T22:13:20.9070259Z",
        "Details": "Test delivery webhook details",
        "Metadata": {"example": "value", "example_2": "value"},
    })
    bounce = compact({
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "Test",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "Test bounce details",
        "Email": "søren@example.com",
        "From": "sender@example.com",
        "BouncedAt": "2023-11-14T22:20:00Z",
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Bienvenue à bord",
    }, ascii_only=False)
    return [
        postmark_vector("postmark delivery", "herald-postmark:" + derived("postmark", 12).hex(),
                        "herald-postmark:" + derived("postmark wrong", 12).hex(), delivery),
        postmark_vector("postmark bounce, password with a colon (non-ASCII body)",
                        "hooks:pm:" + derived("postmark colon", 9).hex(),
                        "hooks:pm:" + derived("postmark colon wrong", 9).hex(), bounce),
    ]


# --------------------------------------------------------------------------- standard family

STANDARD_TOLERANCE_S = 300


@contextmanager
def standard_clock(now: int):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(now, tz=tz or timezone.utc)

    with mock.patch.object(swh, "datetime", Frozen):
        yield


@contextmanager
def openai_clock(now: int):
    with mock.patch.object(openai_webhooks, "time", mock.Mock(time=lambda: float(now))):
        yield


def svix_accepts(secret, body, headers, now):
    with standard_clock(now):
        return returns(lambda: SvixWebhook(secret).verify(body, dict(headers)))


def standardwebhooks_accepts(secret, body, headers, now):
    with standard_clock(now):
        return returns(lambda: swh.Webhook(secret).verify(body.encode(), dict(headers), json_parse=False))


def openai_accepts(secret, body, headers, now):
    client = OpenAI(api_key="sk-herald-vectors")
    with openai_clock(now):
        return returns(client.webhooks.verify_signature, body, dict(headers), secret=secret)


def openai_unwraps(secret, body, headers, now):
    client = OpenAI(api_key="sk-herald-vectors", webhook_secret=secret)
    with openai_clock(now):
        return client.webhooks.unwrap(body, dict(headers))


SVIX_JUDGE = "svix Webhook.verify"
OPENAI_JUDGE = "openai client.webhooks.verify_signature (and standardwebhooks Webhook.verify agreeing)"


def openai_judge_many(vector_name):
    def judge(requests_):
        verdicts = []
        for r in requests_:
            verdicts.append((openai_accepts(**r), standardwebhooks_accepts(**r)))
        return verdicts
    return judge


def standard_family_vector(name, scheme, secret, wrong, msg_id, ts, body, *, user_agent, other_keys=()):
    """Svix-signed `svix-*` headers (svix, clerk, resend), or standardwebhooks-signed
    `webhook-*` headers checked by the openai package (openai)."""
    prefix = "webhook" if scheme == "openai" else "svix"
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    signer = swh.Webhook if scheme == "openai" else SvixWebhook
    entries = [signer(k).sign(msg_id, when, body) for k in (*other_keys, secret)]
    signature = " ".join(entries)
    ours = entries[-1]
    headers = [
        (f"{prefix}-id", msg_id),
        (f"{prefix}-timestamp", str(ts)),
        (f"{prefix}-signature", signature),
        ("content-type", "application/json"),
        ("user-agent", user_agent),
    ]
    sig_name = f"{prefix}-signature"
    other = whsec(f"{name} another sender")
    other_entry = swh.Webhook(other).sign(msg_id, when, body)
    variants = [
        {"name": "wrong secret", "secret": wrong, "expect": False},
        {"name": "tampered body (one more space)", "body": body + " ", "expect": False},
        *edge_variants(ts, STANDARD_TOLERANCE_S),
        {"name": "the secret without whsec_", "secret": bare(secret)},
        {"name": "header names in title case",
         "headers": rename_headers(headers, lambda n: "-".join(p.capitalize() for p in n.split("-"))), "expect": True},
        {"name": "another key's v1 before ours", "headers": replace_header(headers, sig_name, f"{other_entry} {ours}"),
         "expect": True},
        {"name": "unknown version v2 carrying our signature",
         "headers": replace_header(headers, sig_name, "v2," + ours[3:]), "expect": False},
        {"name": "a v1a entry before ours", "headers": replace_header(
            headers, sig_name, "v1a," + base64.b64encode(derived(name + " v1a", 64)).decode() + " " + ours),
         "expect": True},
        {"name": "our signature without v1,", "headers": replace_header(headers, sig_name, ours[3:])},
        {"name": "another message id", "headers": replace_header(headers, f"{prefix}-id", msg_id + "x"),
         "expect": False},
        {"name": "timestamp header one second later",
         "headers": replace_header(headers, f"{prefix}-timestamp", str(ts + 1)), "expect": False},
        {"name": "no signature header", "headers": drop_header(headers, sig_name), "expect": False},
    ]
    if other_keys:
        variants.append({"name": "the rotated-out (old) secret still matches its entry", "secret": other_keys[0],
                         "expect": True})
    if scheme != "openai":
        variants.append({"name": "the same headers named webhook-* (svix reads both)",
                         "headers": rename_headers(headers, lambda n: n.replace("svix-", "webhook-")),
                         "expect": True})
    if scheme == "openai":
        assert openai_accepts(secret, body, headers, ts) and standardwebhooks_accepts(secret, body, headers, ts)
        assert svix_accepts(secret, body, headers, ts)
        event = openai_unwraps(secret, body, headers, ts)
        assert event.type == json.loads(body)["type"] and type(event).__name__ == "ResponseCompletedWebhookEvent"
        assert not openai_accepts(wrong, body, headers, ts)
        pairs = openai_judge_many(name)([
            {"headers": [tuple(p) for p in v.get("headers", headers)], "secret": v.get("secret") or secret,
             "now": v["now"] if v.get("now") is not None else ts, "body": v.get("body") or body}
            for v in variants
        ])
        kept = []
        for v, (by_openai, by_std) in zip(variants, pairs, strict=True):
            if by_openai != by_std:
                DISAGREEMENTS.append((scheme, name, v["name"],
                                      f"openai verify_signature: {by_openai}; standardwebhooks: {by_std}"))
            else:
                kept.append(v)
        cases = judged_cases(kept, one_by_one(openai_accepts), OPENAI_JUDGE, headers=headers, secret=secret, now=ts,
                             body=body)
        produced_by = ("standardwebhooks Webhook.sign, checked by the openai package's "
                       "client.webhooks.verify_signature and unwrap, and standardwebhooks Webhook.verify")
    else:
        assert svix_accepts(secret, body, headers, ts) and not svix_accepts(wrong, body, headers, ts)
        cases = judged_cases(variants, one_by_one(svix_accepts), SVIX_JUDGE, headers=headers, secret=secret, now=ts,
                             body=body)
        produced_by = "svix Webhook.sign, checked by svix Webhook.verify"
    return vector(name, scheme, secret, wrong, ts, body, headers, sig_name, produced_by, cases)


def whsec_n(label, n):
    return "whsec_" + base64.b64encode(derived(label, n)).decode()


def standard_family_vectors():
    svix_body = compact({
        "type": "invoice.paid",
        "timestamp": "2023-11-14T22:30:00.000Z",
        "data": {"id": "in_1OCH3r2eZvKYlo2C", "customer": "cus_P0ZbKq", "amount_paid": 4900, "currency": "eur",
                 "description": "Abonnement Pro — novembre"},
    })
    clerk_body = compact({
        "data": {
            "birthday": "",
            "created_at": 1700001099514,
            "email_addresses": [{
                "email_address": "zoe@example.org",
                "id": "idn_2YqNsX8TjV0cZ3aWlG1b4rE6kQp",
                "linked_to": [],
                "object": "email_address",
                "verification": {"status": "verified", "strategy": "email_code"},
            }],
            "external_accounts": [],
            "external_id": None,
            "first_name": "Zoë",
            "gender": "",
            "id": "user_2YqNsVJ3f0pWmB7dK9xHcA1tLzE",
            "image_url": "https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCJ9",
            "last_name": "Brontë",
            "last_sign_in_at": None,
            "object": "user",
            "password_enabled": True,
            "phone_numbers": [],
            "primary_email_address_id": "idn_2YqNsX8TjV0cZ3aWlG1b4rE6kQp",
            "primary_phone_number_id": None,
            "primary_web3_wallet_id": None,
            "private_metadata": {},
            "profile_image_url": "https://www.gravatar.com/avatar?d=mp",
            "public_metadata": {},
            "two_factor_enabled": False,
            "unsafe_metadata": {},
            "updated_at": 1700001099835,
            "username": None,
            "web3_wallets": [],
        },
        "event_attributes": {"http_request": {"client_ip": "192.0.2.10",
                                              "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"}},
        "instance_id": "ins_2YqNrQw8b3Kx1uT0mF5aZ9cHdLe",
        "object": "event",
        "timestamp": 1700001099835,
        "type": "user.created",
    })
    resend_body = compact({
        "type": "email.delivered",
        "created_at": "2023-11-14T22:33:20.123Z",
        "data": {
            "created_at": "2023-11-14T22:33:18.456Z",
            "email_id": "56761188-7520-42d8-8898-ff6fc54ce618",
            "from": "Acme <onboarding@resend.dev>",
            "to": ["delivered@resend.dev"],
            "subject": "Sending this example",
        },
    })
    openai_body = compact({
        "id": "evt_6553b3a1c3f48190b7e5fe0c2d1a9f3e",
        "object": "event",
        "created_at": 1700001300,
        "type": "response.completed",
        "data": {"id": "resp_6553b39f2a2c8190a1b2c3d4e5f60718"},
    })
    return [
        standard_family_vector("svix invoice.paid, rotation (non-ASCII)", "svix", whsec_n("svix", 24),
                               whsec_n("svix wrong", 24), "msg_2YqN3zZ0pQa7bVxkE5t9hJmR1sW", 1700001000, svix_body,
                               user_agent="Svix-Webhooks/1.24.0", other_keys=[whsec_n("svix old", 24)]),
        standard_family_vector("clerk user.created (non-ASCII)", "clerk", whsec_n("clerk", 24),
                               whsec_n("clerk wrong", 24), "msg_2YqNt0fS8kB3mW1xZ7cV4aJ9pLh", 1700001100, clerk_body,
                               user_agent="Svix-Webhooks/1.24.0"),
        standard_family_vector("resend email.delivered", "resend", whsec_n("resend", 24), whsec_n("resend wrong", 24),
                               "msg_2YqNuX4hG7eR0tY2wQ8nP3kM6sD", 1700001200, resend_body,
                               user_agent="Svix-Webhooks/1.24.0"),
        standard_family_vector("openai response.completed", "openai", whsec_n("openai", 32),
                               whsec_n("openai wrong", 32), "wh_6553b3a1f0d88190a6e4c2b7d9e1f305", 1700001300,
                               openai_body, user_agent="OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"),
    ]


# --------------------------------------------------------------------------- standard v1a

V1A_JUDGE = ("PyNaCl VerifyKey.verify and cryptography Ed25519PublicKey.verify (agreeing) on v1a entries, under "
             "the Standard Webhooks header rules and 5-minute window as standardwebhooks applies them to v1")


def whsk(label):
    return "whsk_" + base64.b64encode(derived(label, 32)).decode()


def whpk_of(secret_key: str) -> str:
    seed = base64.b64decode(secret_key.removeprefix("whsk_"))
    return "whpk_" + base64.b64encode(bytes(nacl.signing.SigningKey(seed).verify_key)).decode()


def v1a_sign(secret_key, msg_id, ts, body):
    seed = base64.b64decode(secret_key.removeprefix("whsk_"))
    signed = nacl.signing.SigningKey(seed).sign(f"{msg_id}.{ts}.{body}".encode())
    return "v1a," + base64.b64encode(signed.signature).decode()


def v1a_accepts(secret, body, headers, now):
    if not secret.startswith("whpk_"):
        return False
    try:
        public = base64.b64decode(secret.removeprefix("whpk_"), validate=True)
    except ValueError:
        return False
    if len(public) != 32:
        return False
    h = {n.lower(): v for n, v in headers}
    msg_id, stamp, signatures = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        return False
    try:
        ts = int(stamp)
    except ValueError:
        return False
    if ts < now - STANDARD_TOLERANCE_S or ts > now + STANDARD_TOLERANCE_S:
        return False
    signed = f"{msg_id}.{stamp}.{body}".encode()
    for entry in signatures.split(" "):
        version, _, text = entry.partition(",")
        if version != "v1a":
            continue
        try:
            signature = base64.b64decode(text, validate=True)
        except ValueError:
            continue
        by_nacl = returns(nacl.signing.VerifyKey(public).verify, signed, signature)
        by_cryptography = returns(Ed25519PublicKey.from_public_bytes(public).verify, signature, signed)
        assert by_nacl == by_cryptography, (entry, by_nacl, by_cryptography)
        if by_nacl:
            return True
    return False


def v1a_vector(name, key_label, msg_id, ts, body, *, hmac_secret=None):
    secret_key = whsk(key_label)
    public = whpk_of(secret_key)
    wrong = whpk_of(whsk(key_label + " wrong"))
    ours = v1a_sign(secret_key, msg_id, ts, body)
    entries = [ours]
    if hmac_secret is not None:
        when = datetime.fromtimestamp(ts, tz=timezone.utc)
        entries.insert(0, swh.Webhook(hmac_secret).sign(msg_id, when, body))
    headers = [
        ("webhook-id", msg_id),
        ("webhook-timestamp", str(ts)),
        ("webhook-signature", " ".join(entries)),
        ("content-type", "application/json"),
    ]
    assert v1a_accepts(public, body, headers, ts)
    if hmac_secret is not None:
        # The same header also satisfies the symmetric scheme (standardwebhooks skips v1a entries).
        assert standardwebhooks_accepts(hmac_secret, body, headers, ts)
    another = v1a_sign(whsk(key_label + " another sender"), msg_id, ts, body)
    raw = base64.b64decode(ours.removeprefix("v1a,"))
    variants = [
        {"name": "wrong public key", "secret": wrong, "expect": False},
        {"name": "tampered body (one more space)", "body": body + " ", "expect": False},
        *edge_variants(ts, STANDARD_TOLERANCE_S),
        {"name": "header names in title case",
         "headers": rename_headers(headers, lambda n: "-".join(p.capitalize() for p in n.split("-"))), "expect": True},
        {"name": "another key's v1a before ours",
         "headers": replace_header(headers, "webhook-signature", f"{another} {ours}"), "expect": True},
        {"name": "our Ed25519 signature labelled v1,",
         "headers": replace_header(headers, "webhook-signature", "v1," + ours.removeprefix("v1a,")), "expect": False},
        {"name": "our signature cut to 63 bytes", "headers": replace_header(
            headers, "webhook-signature", "v1a," + base64.b64encode(raw[:63]).decode()), "expect": False},
        {"name": "another message id", "headers": replace_header(headers, "webhook-id", msg_id + "x"),
         "expect": False},
        {"name": "timestamp header one second later",
         "headers": replace_header(headers, "webhook-timestamp", str(ts + 1)), "expect": False},
        {"name": "the private key (whsk_) configured instead of the public key", "secret": secret_key,
         "expect": False},
    ]
    if hmac_secret is not None:
        variants.append({"name": "only the v1 (HMAC) entry", "headers": replace_header(
            headers, "webhook-signature", entries[0]), "expect": False})
    cases = judged_cases(variants, one_by_one(v1a_accepts), V1A_JUDGE, headers=headers, secret=public, now=ts,
                         body=body)
    return vector(name, "standard", public, wrong, ts, body, headers, "webhook-signature",
                  "PyNaCl SigningKey.sign (whsk_ seed " + secret_key + "), checked by PyNaCl VerifyKey.verify and "
                  "cryptography Ed25519PublicKey.verify" + (
                      "; the v1 entry by standardwebhooks Webhook.sign" if hmac_secret else ""), cases)


def v1a_vectors():
    contact = compact({
        "type": "contact.created",
        "timestamp": "2023-11-14T22:36:40.000Z",
        "data": {"id": "1f81eb52-5198-4599-803e-771906343485", "name": "Ana Lúcia"},
    })
    updated = compact({
        "type": "contact.updated",
        "timestamp": "2023-11-14T22:38:20.000Z",
        "data": {"id": "1f81eb52-5198-4599-803e-771906343485", "name": "Ana Lúcia Prado"},
    })
    return [
        v1a_vector("standard v1a (Ed25519)", "standard v1a", "msg_2YqNv1aEd25519Example0001", 1700001400, contact),
        v1a_vector("standard v1a with a v1 entry beside it", "standard v1a both", "msg_2YqNv1aBothEntries0000002",
                   1700001500, updated, hmac_secret=whsec("standard v1a both hmac")),
    ]


# --------------------------------------------------------------------------- main


def check_versions():
    found = {p: importlib.metadata.version(p) for p in PY_PACKAGES}
    off = {p: (found[p], v) for p, v in PY_PACKAGES.items() if found[p] != v}
    if off:
        pins = " ".join(f"{p}=={v}" for p, v in PY_PACKAGES.items())
        sys.exit(f"package versions differ from the pins {off}; install with:\n"
                 f"  python3 -m pip install --quiet --root-user-action=ignore {pins}")


def main():
    check_versions()
    vectors = [
        *twitch_vectors(),
        *zoom_vectors(),
        *meta_vectors(),
        *intercom_vectors(),
        *mailgun_vectors(),
        *pagerduty_vectors(),
        *postmark_vectors(),
        *standard_family_vectors(),
        *v1a_vectors(),
    ]
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
