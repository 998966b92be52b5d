#!/usr/bin/env python3
"""Writes vectors.json: inbound webhook requests signed by the providers' own libraries.

Each valid request is produced by the provider's official package (or, where a provider
publishes no package, by its published example or the exact code its docs show), then
checked with that package's own verifier before it is written. The Rust tests in
../vectors.rs replay every vector through `verify_inbound`.

    python3 -m pip install --quiet --root-user-action=ignore standardwebhooks stripe slack_sdk
    python3 crates/herald-signing/tests/vectors/generate.py

Secrets, bodies and timestamps are fixed, so a rerun with the same package versions writes
the same file byte for byte. The verifiers that read a clock are given the vector's own
timestamp as "now" (patched for the duration of the check only).
"""

import base64
import hashlib
import hmac
import importlib.metadata
import json
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

import standardwebhooks.webhooks as swh
import stripe
from slack_sdk.signature import Clock, SignatureVerifier

TOLERANCE_S = 300
OUT = Path(__file__).with_name("vectors.json")


def derived(label: str, n: int) -> bytes:
    """Fixed pseudo-random bytes, so secrets look real but never change."""
    return hashlib.sha256(f"herald test vector: {label}".encode()).digest()[:n]


def whsec(label: str) -> str:
    return "whsec_" + base64.b64encode(derived(label, 32)).decode()


def stripe_secret(label: str) -> str:
    # Stripe endpoint secrets are `whsec_` + 32 alphanumerics; used whole as the HMAC key.
    return "whsec_" + derived(label, 16).hex()


def expect_error(fn, *args, **kwargs):
    try:
        result = fn(*args, **kwargs)
    except Exception:  # any refusal will do
        return
    if result is False:
        return
    raise AssertionError(f"{fn.__qualname__} accepted what it should refuse")


# --------------------------------------------------------------------------- standard


@contextmanager
def standard_clock(now: int):
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(now, tz=tz or timezone.utc)

    with mock.patch.object(swh, "datetime", Frozen):
        yield


def standard_vector(name, secret, wrong, msg_id, ts, body, *, prefix="webhook", other_keys=()):
    when = datetime.fromtimestamp(ts, tz=timezone.utc)
    entries = [swh.Webhook(k).sign(msg_id, when, body) for k in other_keys]
    entries.append(swh.Webhook(secret).sign(msg_id, when, body))
    signature = " ".join(entries)
    lib_headers = {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}
    with standard_clock(ts):
        swh.Webhook(secret).verify(body.encode(), lib_headers, json_parse=False)
        expect_error(swh.Webhook(wrong).verify, body.encode(), lib_headers, json_parse=False)
        expect_error(swh.Webhook(secret).verify, (body + " ").encode(), lib_headers, json_parse=False)
    with standard_clock(ts + TOLERANCE_S + 1):
        expect_error(swh.Webhook(secret).verify, body.encode(), lib_headers, json_parse=False)
    return {
        "name": name,
        "scheme": "standard",
        "secret": secret,
        "wrong_secret": wrong,
        "timestamp": ts,
        "body": body,
        "headers": [
            [f"{prefix}-id", msg_id],
            [f"{prefix}-timestamp", str(ts)],
            [f"{prefix}-signature", signature],
        ],
        "signature_header": f"{prefix}-signature",
        "produced_by": "standardwebhooks Webhook.sign, checked by Webhook.verify",
    }


# --------------------------------------------------------------------------- stripe


@contextmanager
def stripe_clock(now: int):
    module = sys.modules[stripe.WebhookSignature.__module__]
    with mock.patch.object(module, "time", mock.Mock(time=lambda: float(now))):
        yield


def stripe_vector(name, secret, wrong, ts, body, *, other_secret=None):
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=ts)
    if other_secret is not None:
        # A roll: Stripe sends one v1 per live secret. Only the second one is ours.
        stale = stripe.WebhookSignature.generate_signature_header(body, other_secret, timestamp=ts)
        stale_v1 = stale.split(",v1=", 1)[1]
        ours_v1 = header.split(",v1=", 1)[1]
        header = f"t={ts},v1={stale_v1},v1={ours_v1}"
        with stripe_clock(ts):
            expect_error(stripe.WebhookSignature.verify_header, body, f"t={ts},v1={stale_v1}", secret, TOLERANCE_S)
    with stripe_clock(ts):
        stripe.WebhookSignature.verify_header(body, header, secret, TOLERANCE_S)
        event = stripe.Webhook.construct_event(body, header, secret, TOLERANCE_S)
        assert event["id"] == json.loads(body)["id"]
        expect_error(stripe.WebhookSignature.verify_header, body, header, wrong, TOLERANCE_S)
        expect_error(stripe.WebhookSignature.verify_header, body + " ", header, secret, TOLERANCE_S)
        expect_error(stripe.WebhookSignature.verify_header, body, header.replace("v1=", "v0="), secret, TOLERANCE_S)
    with stripe_clock(ts + TOLERANCE_S + 1):
        expect_error(stripe.WebhookSignature.verify_header, body, header, secret, TOLERANCE_S)
    return {
        "name": name,
        "scheme": "stripe",
        "secret": secret,
        "wrong_secret": wrong,
        "timestamp": ts,
        "body": body,
        "headers": [["Stripe-Signature", header]],
        "signature_header": "Stripe-Signature",
        "produced_by": "stripe WebhookSignature.generate_signature_header, "
        "checked by WebhookSignature.verify_header and Webhook.construct_event",
    }


# --------------------------------------------------------------------------- slack


class FixedClock(Clock):
    def __init__(self, now: int):
        self._now = now

    def now(self) -> float:
        return float(self._now)


def slack_vector(name, secret, wrong, ts, body, *, published=None):
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=body)
    if published is not None:
        assert signature == published, (signature, published)
    headers = {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": signature}
    assert SignatureVerifier(secret, FixedClock(ts)).is_valid_request(body, headers)
    assert not SignatureVerifier(wrong, FixedClock(ts)).is_valid_request(body, headers)
    assert not SignatureVerifier(secret, FixedClock(ts)).is_valid_request(body + "&x=1", headers)
    assert not SignatureVerifier(secret, FixedClock(ts + TOLERANCE_S + 1)).is_valid_request(body, headers)
    assert not SignatureVerifier(secret, FixedClock(ts - TOLERANCE_S - 1)).is_valid_request(body, headers)
    return {
        "name": name,
        "scheme": "slack",
        "secret": secret,
        "wrong_secret": wrong,
        "timestamp": ts,
        "body": body,
        "headers": [[k, v] for k, v in headers.items()],
        "signature_header": "X-Slack-Signature",
        "produced_by": "slack_sdk SignatureVerifier.generate_signature, checked by is_valid_request"
        + (" and Slack's published example" if published else ""),
    }


# --------------------------------------------------------------------------- the rest


def github_vector():
    # GitHub's docs, "Validating webhook deliveries": the published test values.
    secret, body = "It's a Secret to Everybody", "Hello, World!"
    published = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    ours = "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(ours, published)
    return {
        "name": "github published example",
        "scheme": "github",
        "secret": secret,
        "wrong_secret": "It's a Secret to Nobody",
        "timestamp": None,
        "body": body,
        "headers": [["X-Hub-Signature-256", published]],
        "signature_header": "X-Hub-Signature-256",
        "produced_by": "GitHub docs published example (secret, payload and signature)",
    }


def shopify_docs_verify(secret: str, data: bytes, hmac_header: str) -> bool:
    """`verify_webhook` from Shopify's docs ("Verify a webhook", Python), keyed by `secret`."""
    digest = hmac.new(secret.encode("utf-8"), data, digestmod=hashlib.sha256).digest()
    computed_hmac = base64.b64encode(digest)
    return hmac.compare_digest(computed_hmac, hmac_header.encode("utf-8"))


def shopify_vector(secret, wrong, body):
    data = body.encode("utf-8")
    header = base64.b64encode(hmac.new(secret.encode("utf-8"), data, digestmod=hashlib.sha256).digest()).decode()
    assert shopify_docs_verify(secret, data, header)
    assert not shopify_docs_verify(wrong, data, header)
    assert not shopify_docs_verify(secret, data + b" ", header)
    return {
        "name": "shopify order",
        "scheme": "shopify",
        "secret": secret,
        "wrong_secret": wrong,
        "timestamp": None,
        "body": body,
        "headers": [["X-Shopify-Hmac-Sha256", header], ["X-Shopify-Topic", "orders/create"]],
        "signature_header": "X-Shopify-Hmac-Sha256",
        "produced_by": "the computation of Shopify's docs, checked by their verify_webhook",
    }


def hmac_vector(name, spec, secret, wrong, body):
    digest = hmac.new(secret.encode(), body.encode(), getattr(hashlib, spec["algorithm"])).digest()
    text = digest.hex() if spec["encoding"] == "hex" else base64.b64encode(digest).decode()
    return {
        "name": name,
        "scheme": "hmac",
        "hmac": spec,
        "secret": secret,
        "wrong_secret": wrong,
        "timestamp": None,
        "body": body,
        "headers": [[spec["header"], (spec["prefix"] or "") + text]],
        "signature_header": spec["header"],
        "produced_by": "Python's hmac module",
    }


def main():
    event = {
        "id": "evt_1QhEraldVect0r",
        "object": "event",
        "api_version": "2024-12-18",
        "created": 1735689600,
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_1QhEraldVect0r", "object": "payment_intent", "amount": 2000}},
    }
    stripe_body = json.dumps(event, indent=2) + "\n"
    unicode_event = dict(event, id="evt_1QhEraldUnic0de", data={"object": {"description": "café ☕ 日本"}})
    order = {"id": 820982911946154508, "email": "jon@example.com", "total_price": "403.00", "note": "Grüße"}
    slack_docs_body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
        "&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
        "&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
        "%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )

    vectors = [
        standard_vector(
            "standard specification example",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            whsec("standard wrong"),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            '{"test": 2432232314}',
        ),
        standard_vector(
            "standard svix headers, unicode body",
            whsec("standard svix"),
            whsec("standard svix wrong"),
            "msg_2hEraldSvixUnicode",
            1735689600,
            '{"type":"ticket.created","title":"café ☕ 日本"}\n',
            prefix="svix",
        ),
        standard_vector(
            "standard rotation, second entry matches",
            whsec("standard rotation new"),
            whsec("standard rotation wrong"),
            "msg_2hEraldRotation",
            1735693200,
            '{"type":"ticket.updated","id":42}',
            other_keys=[whsec("standard rotation old")],
        ),
        stripe_vector("stripe event", stripe_secret("stripe"), stripe_secret("stripe wrong"), 1735689600, stripe_body),
        stripe_vector(
            "stripe unicode body",
            stripe_secret("stripe unicode"),
            stripe_secret("stripe unicode wrong"),
            1735689660,
            json.dumps(unicode_event, ensure_ascii=False),
        ),
        stripe_vector(
            "stripe two v1, second matches",
            stripe_secret("stripe roll new"),
            stripe_secret("stripe roll wrong"),
            1735689720,
            stripe_body,
            other_secret=stripe_secret("stripe roll old"),
        ),
        slack_vector(
            "slack published example",
            "8f742231b10e8888abcd99yyyzzz85a5",
            "8f742231b10e8888abcd99yyyzzz85a6",
            1531420618,
            slack_docs_body,
            published="v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        ),
        slack_vector(
            "slack event callback",
            derived("slack", 16).hex(),
            derived("slack wrong", 16).hex(),
            1735689600,
            '{"token":"z26uFbvR1xHJEdHE1OQiO6t8","type":"event_callback","event":{"type":"app_mention","text":"héllo"}}',
        ),
        github_vector(),
        shopify_vector("shpss_" + derived("shopify", 16).hex(), "shpss_" + derived("shopify wrong", 16).hex(),
                       json.dumps(order, ensure_ascii=False)),
        hmac_vector(
            "hmac default (x-signature, sha256, hex)",
            {"header": "X-Signature", "algorithm": "sha256", "encoding": "hex", "prefix": None},
            "flask-receiver-secret",
            "flask-receiver-secret2",
            '{"type":"ticket.created"}',
        ),
        hmac_vector(
            "hmac sha1 hex with prefix",
            {"header": "X-Hub-Signature", "algorithm": "sha1", "encoding": "hex", "prefix": "sha1="},
            "It's a Secret to Everybody",
            "It's a Secret to Nobody",
            "Hello, World!",
        ),
        hmac_vector(
            "hmac sha512 base64",
            {"header": "X-Ticketing-Signature", "algorithm": "sha512", "encoding": "base64", "prefix": None},
            derived("hmac512", 24).hex(),
            derived("hmac512 wrong", 24).hex(),
            '{"ticket":{"id":7,"subject":"Printer on fire"}}',
        ),
    ]

    versions = {p: importlib.metadata.version(p) for p in ("standardwebhooks", "stripe", "slack_sdk")}
    doc = {
        "about": "Inbound webhook requests signed by the providers' libraries; written by generate.py, "
        "replayed by tests/vectors.rs. Do not edit by hand.",
        "tolerance_s": TOLERANCE_S,
        "libraries": versions,
        "vectors": vectors,
    }
    OUT.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(vectors)} vectors to {OUT}")


if __name__ == "__main__":
    main()
