"""paddle: catalogue_a vectors.

Signed by paddle-python-sdk 1.16.1 PaddleSignature.calculate_hmac over "{ts}:{body}". Judged by
both official SDKs: paddle-python-sdk Verifier().verify (its clock patched to the case's now,
TEST_MODE cleared) and npm @paddle/paddle-node-sdk 3.10.0 webhooks.isSignatureValid (Date frozen);
each vector's own request must also go through the Node SDK's webhooks.unmarshal. Where the two
SDKs disagree (the future side of the 5 s tolerance, several h1, an unknown h2) the variant goes to
`disputed_cases` with both verdicts.
"""

import base64
import json
import os
import sys
from contextlib import contextmanager
from unittest import mock

from paddle_billing.Notifications.PaddleSignature import PaddleSignature
from paddle_billing.Notifications.Secret import Secret as PaddleSecret
from paddle_billing.Notifications.Verifier import Verifier as PaddleVerifier

from support import derived

from .common_a import (header, judged_cases, lower_names, ms, node, pairs, replace_header, resolve, returns,
                       time_variants, variant, vector, with_second_opinion)

PY_PACKAGES = {"paddle-python-sdk": "1.16.1"}
NODE_PACKAGES = {"@paddle/paddle-node-sdk": "3.10.0"}
NODE_SCRIPT = r"""
import { Paddle, LogLevel } from '@paddle/paddle-node-sdk';

const paddle = new Paddle('pdl_sdbx_apikey_herald_vectors', { logLevel: LogLevel.error });

const run = {
  async paddle(c) {
    const signature = header(c.headers, 'paddle-signature');
    if (signature === undefined) return false;
    return (await paddle.webhooks.isSignatureValid(c.body, c.secret, signature)) === true;
  },
  async paddle_unmarshal(c) {
    const event = await paddle.webhooks.unmarshal(c.body, c.secret, header(c.headers, 'paddle-signature'));
    return event.eventType;
  },
};
"""

PADDLE_TOLERANCE_S = 5  # paddle-python-sdk Verifier(maximum_variance=5); @paddle/paddle-node-sdk MAX_VALID_TIME_DIFFERENCE = 5


class PaddleRequest:
    """A request as paddle-python-sdk's Verifier reads it: .headers.get (case-insensitive, as web
    frameworks' headers are) and .body (bytes)."""

    class Headers:
        def __init__(self, headers):
            self.headers = headers

        def get(self, key, default=None):
            value = header(self.headers, key)
            return default if value is None else value

    def __init__(self, headers, body):
        self.headers = PaddleRequest.Headers(headers)
        self.body = body.encode("utf-8")


@contextmanager
def paddle_clock(now):
    module = sys.modules[PaddleVerifier.__module__]
    with mock.patch.object(module, "time", lambda: float(now)), mock.patch.dict(os.environ):
        os.environ.pop("TEST_MODE", None)  # TEST_MODE=1 would switch the time check off
        yield


def paddle_judge(requests):
    by_node = node(NODE_SCRIPT, [{"lib": "paddle", "now_ms": ms(r["now"]), "secret": r["secret"], "body": r["body"],
                                  "headers": pairs(r["headers"])} for r in requests])
    out = []
    for r, node_ok in zip(requests, by_node):
        with paddle_clock(r["now"]):
            ok = returns(PaddleVerifier().verify, PaddleRequest(r["headers"], r["body"]), PaddleSecret(r["secret"]))
        out.append(with_second_opinion(ok, "paddle-python-sdk Verifier().verify",
                                       node_ok, "@paddle/paddle-node-sdk webhooks.isSignatureValid"))
    return out


def paddle_h1(secret, ts, body):
    return PaddleSignature.calculate_hmac(secret, f"{ts}:{body}".encode("utf-8")).hexdigest()


def paddle_vector(name, secret, wrong, ts, body, variants, *, old_secret=None):
    h1 = paddle_h1(secret, ts, body)
    value = f"ts={ts};h1={h1}"
    if old_secret is not None:
        value = f"ts={ts};h1={paddle_h1(old_secret, ts, body)};h1={h1}"
    headers = [("Content-Type", "application/json"), ("Paddle-Signature", value)]
    base = {"name": name, "secret": secret, "wrong": wrong, "url": None, "body": body, "headers": headers, "now": ts}
    # The Node SDK's unmarshal too must take it (it parses the event as well).
    assert node(NODE_SCRIPT, [{"lib": "paddle_unmarshal", "now_ms": ms(ts), "secret": secret, "body": body,
                               "headers": pairs(headers)}]) == [json.loads(body)["event_type"]]
    cases = judged_cases(base, resolve(variants, base), paddle_judge)
    return vector(name, "paddle", secret, wrong, ts, None, body, headers, "paddle-signature",
                  "paddle-python-sdk PaddleSignature.calculate_hmac over \"{ts}:{body}\", checked by "
                  "paddle-python-sdk Verifier().verify and @paddle/paddle-node-sdk webhooks.isSignatureValid "
                  "and webhooks.unmarshal", cases)


def paddle_secret(label):
    return f"pdl_ntfset_01hf{derived(label + ' id', 11).hex()}_{base64.b64encode(derived(label, 24)).decode().replace('+', 'x').replace('/', 'y')}"


def vectors():
    ts1, ts2, ts3 = 1700000300, 1700000360, 1700000420
    secret, wrong = paddle_secret("paddle"), paddle_secret("paddle wrong")
    txn = {
        "event_id": "evt_01hf3m3t6r0qcbj6x3k2c8w1yq", "event_type": "transaction.completed",
        "occurred_at": "2023-11-14T22:18:20.114853Z", "notification_id": "ntf_01hf3m3t9p4m6xq8y2k0z5v7ab",
        "data": {
            "id": "txn_01hf3m2w8a6b9c0d1e2f3g4h5j", "status": "completed", "customer_id": "ctm_01hf3kz3x0y1z2a3b4c5d6e7f8",
            "address_id": "add_01hf3kz4a9b8c7d6e5f4g3h2j1", "business_id": None, "custom_data": None,
            "origin": "web", "collection_mode": "automatic", "subscription_id": "sub_01hf3m3r2q1p0n9m8k7j6h5g4f",
            "invoice_id": "inv_01hf3m3s5d4c3b2a1z0y9x8w7v", "invoice_number": "325-10566", "billing_details": None,
            "billing_period": {"starts_at": "2023-11-14T22:18:07.391Z", "ends_at": "2023-12-14T22:18:07.391Z"},
            "currency_code": "USD", "discount_id": None,
            "created_at": "2023-11-14T22:17:59.520Z", "updated_at": "2023-11-14T22:18:19.859Z",
            "billed_at": "2023-11-14T22:18:07.391Z",
            "items": [{"price_id": "pri_01gsz8x8sawmvhz1pv30nge1ke", "quantity": 10, "proration": None}],
            "payments": [{"payment_attempt_id": "497f776b-2a4e-4b6f-9c3a-0d6e5b1a2c3d", "stored_payment_method_id":
                          "7c0a5b4f-1e2d-4c3b-8a9f-6e5d4c3b2a19", "amount": "1000", "status": "captured",
                          "error_code": None, "method_details": {"type": "card", "card": {
                              "type": "visa", "last4": "4242", "expiry_month": 1, "expiry_year": 2026,
                              "cardholder_name": "Jane Doe"}},
                          "created_at": "2023-11-14T22:18:05.000Z", "captured_at": "2023-11-14T22:18:07.000Z"}],
            "checkout": {"url": "https://example.com/pay?_ptxn=txn_01hf3m2w8a6b9c0d1e2f3g4h5j"},
        },
    }
    body1 = json.dumps(txn, separators=(",", ":"))

    rot_new, rot_old, rot_wrong = paddle_secret("paddle rotation new"), paddle_secret("paddle rotation old"), paddle_secret("paddle rotation wrong")
    sub = {
        "event_id": "evt_01hf3m4a1b2c3d4e5f6g7h8j9k", "event_type": "subscription.updated",
        "occurred_at": "2023-11-14T22:19:20.000000Z", "notification_id": "ntf_01hf3m4b2c3d4e5f6g7h8j9k0m",
        "data": {"id": "sub_01hf3m3r2q1p0n9m8k7j6h5g4f", "status": "active", "customer_id": "ctm_01hf3kz3x0y1z2a3b4c5d6e7f8",
                 "address_id": "add_01hf3kz4a9b8c7d6e5f4g3h2j1", "currency_code": "EUR", "collection_mode": "automatic",
                 "created_at": "2023-11-14T22:18:07.391Z", "updated_at": "2023-11-14T22:19:19.000Z",
                 "started_at": "2023-11-14T22:18:07.391Z", "next_billed_at": "2023-12-14T22:18:07.391Z",
                 "billing_cycle": {"interval": "month", "frequency": 1},
                 "current_billing_period": {"starts_at": "2023-11-14T22:18:07.391Z", "ends_at": "2023-12-14T22:18:07.391Z"},
                 "scheduled_change": None, "items": []},
    }
    body2 = json.dumps(sub, indent=2) + "\n"

    uni_secret, uni_wrong = paddle_secret("paddle unicode"), paddle_secret("paddle unicode wrong")
    customer = {
        "event_id": "evt_01hf3m5c6d7e8f9g0h1j2k3m4n", "event_type": "customer.created",
        "occurred_at": "2023-11-14T22:20:20.000000Z", "notification_id": "ntf_01hf3m5d7e8f9g0h1j2k3m4n5p",
        "data": {"id": "ctm_01hf3m5e8f9g0h1j2k3m4n5p6q", "name": "Zoë Ünal — Café ☕", "email": "zoe@example.com",
                 "status": "active", "locale": "de", "marketing_consent": False, "custom_data": None,
                 "created_at": "2023-11-14T22:20:19.000Z", "updated_at": "2023-11-14T22:20:19.000Z", "import_meta": None},
    }
    body3 = json.dumps(customer, ensure_ascii=False, separators=(",", ":"))

    def sig(b):
        return header(b["headers"], "Paddle-Signature")

    def with_sig(b, value):
        return replace_header(b["headers"], "Paddle-Signature", value)

    h1_1 = paddle_h1(secret, ts1, body1)
    h1_new, h1_old = paddle_h1(rot_new, ts2, body2), paddle_h1(rot_old, ts2, body2)
    return [
        paddle_vector("paddle transaction.completed", secret, wrong, ts1, body1, [
            *time_variants(ts1, PADDLE_TOLERANCE_S, extra=(300,)),
            lambda b: variant("header name in lower case", headers=lower_names(b["headers"])),
            lambda b: variant("h1 before ts", headers=with_sig(b, f"h1={h1_1};ts={ts1}")),
            lambda b: variant("h1 in upper-case hex", headers=with_sig(b, f"ts={ts1};h1={h1_1.upper()}")),
            lambda b: variant("ts changed by one second, h1 kept", headers=with_sig(b, f"ts={ts1 + 1};h1={h1_1}")),
            lambda b: variant("a space after the ';'", headers=with_sig(b, f"ts={ts1}; h1={h1_1}")),
            lambda b: variant("an unknown h2 after the right h1", headers=with_sig(b, f"ts={ts1};h1={h1_1};h2={h1_1}")),
            lambda b: variant("no h1, only an unknown h2", headers=with_sig(b, f"ts={ts1};h2={h1_1}")),
            lambda b: variant("a wrong h1 after the right one", headers=with_sig(b, f"ts={ts1};h1={h1_1};h1={'0' * 64}")),
            lambda b: variant("no ts", headers=with_sig(b, f"h1={h1_1}")),
        ]),
        paddle_vector("paddle rotation, two h1 (old secret's first)", rot_new, rot_wrong, ts2, body2, [
            *time_variants(ts2, PADDLE_TOLERANCE_S),
            lambda b: variant("the two h1 in the other order", headers=with_sig(b, f"ts={ts2};h1={h1_new};h1={h1_old}")),
            lambda b: variant("the old secret (its h1 is the first)", secret=rot_old),
            lambda b: variant("only the old secret's h1", headers=with_sig(b, f"ts={ts2};h1={h1_old}")),
        ], old_secret=rot_old),
        paddle_vector("paddle customer.created, non-ASCII", uni_secret, uni_wrong, ts3, body3, [
            lambda b: variant("body re-encoded with \\u escapes (h1 kept)",
                              body=json.dumps(customer, separators=(",", ":"))),
        ]),
    ]
