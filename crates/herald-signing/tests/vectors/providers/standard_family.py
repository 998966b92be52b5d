"""svix, clerk, resend (svix-* headers) and openai (webhook-* headers), the Standard Webhooks
family: catalogue_b vectors.

svix, clerk, resend: signed by PyPI svix 2.9.1 Webhook.sign and judged by svix Webhook.verify
(Clerk and Resend deliver through Svix and tell you to verify with it). openai: signed by
standardwebhooks 1.1.0 Webhook.sign and judged by PyPI openai 3.60.0
client.webhooks.verify_signature (unwrap checked too), with standardwebhooks Webhook.verify
required to agree; variants where they part are left out and recorded in DISAGREEMENTS. Clocks
are patched for the duration of each check only. standard_clock and standardwebhooks_accepts
are also used by v1a.
"""

import base64
import json
from contextlib import contextmanager
from datetime import datetime, timezone
from unittest import mock

import openai.lib._webhooks as openai_webhooks
import standardwebhooks.webhooks as swh
from openai import OpenAI
from svix.webhooks import Webhook as SvixWebhook

from support import bare, derived, returns, whsec

from .common_b import (DISAGREEMENTS, compact, drop_header, edge_variants, judged_cases, one_by_one, rename_headers,
                       replace_header, vector)


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


def vectors():
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
