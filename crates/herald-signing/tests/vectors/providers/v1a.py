"""standard v1a (asymmetric Standard Webhooks, scheme `standard`): catalogue_b vectors.

No released standardwebhooks/svix library verifies v1a. Following the Standard Webhooks spec
(ed25519, identifier v1a, whsk_ / whpk_ keys), requests are signed with PyNaCl
SigningKey(seed).sign and judged by a verifier written here that applies standardwebhooks'
header rules and 5-minute window to v1a entries, checking each with PyNaCl VerifyKey.verify and
cryptography Ed25519PublicKey.verify, which must agree. A vector mixing in a v1 (HMAC) entry
signs it with standardwebhooks Webhook.sign, which must accept the same header.
"""

import base64
from datetime import datetime, timezone

import nacl.signing
import standardwebhooks.webhooks as swh
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from support import derived, returns, whsec

from .common_b import compact, edge_variants, judged_cases, one_by_one, rename_headers, replace_header, vector
from .standard_family import STANDARD_TOLERANCE_S, standardwebhooks_accepts


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


def vectors():
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
