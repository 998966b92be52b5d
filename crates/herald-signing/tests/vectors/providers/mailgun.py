"""mailgun (signature in the JSON body): catalogue_b vectors.

Judged by PyPI mailgun 1.10.0 (the official SDK): SecurityGuard.verify_webhook, called with
max_age_seconds=300 and time.time patched. Mailgun has no signer, so requests are signed with
the Python computation of Mailgun's docs ("Securing webhooks"): hex HMAC-SHA256 of timestamp +
token. Only timestamp and token are signed, not event-data.
"""

import hashlib
import hmac
import json
from contextlib import contextmanager
from unittest import mock

import mailgun.security
from mailgun.security import SecurityGuard

from support import derived, returns

from .common_b import edge_variants, judged_cases, one_by_one, vector


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


def vectors():
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
