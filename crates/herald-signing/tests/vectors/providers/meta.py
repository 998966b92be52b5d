"""meta (Facebook / WhatsApp / Instagram, X-Hub-Signature-256): catalogue_b vectors.

Signed by npm whatsapp 0.0.5-Alpha (Meta's WhatsApp Business Platform Node.js SDK, the only
official code) utils.generateXHub256Sig, and judged by the comparison of its WebhooksAPI.start()
(copied, as its request reader is broken), on the Node side in common_b. Meta's docs rule
("Validating payloads": sha256= + hex HMAC-SHA256 of the raw body, compared exactly) must agree
on every case. Bodies are written as Meta sends them (\\uXXXX escapes), and as raw UTF-8.
"""

import hashlib
import hmac

from support import derived

from .common_b import compact, drop_header, judged_cases, node, rename_headers, replace_header, vector


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


def vectors():
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
