"""intercom (X-Hub-Signature, SHA-1): catalogue_b vectors.

No official verifier. Signed and judged by the rule of Intercom's docs, "Webhooks → Signed
notifications": sha1= + hex HMAC-SHA1 of the JSON body keyed by the app's client secret. The
docs give no code, so Python hmac computes it and hmac.compare_digest compares the whole header
value.
"""

import hashlib
import hmac

from support import derived

from .common_b import compact, judged_cases, one_by_one, rename_headers, replace_header, vector


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


def vectors():
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
