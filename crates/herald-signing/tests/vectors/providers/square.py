"""square: catalogue_a vectors.

Square's SDKs have no signer, so requests are signed with the computation their verifiers check:
base64 HMAC-SHA256, keyed by the signature key, of notification URL + body (the legacy
X-Square-Signature the same with SHA-1). Judged by both official SDKs: squareup 46.0.0.20260916
(PyPI) square.utils.webhooks_helper.verify_signature and npm square 46.0.0
WebhooksHelper.verifySignature; a disagreement would go to `disputed_cases`. The requests of
Square's SDK tests are cases. No time is checked.
"""

import base64
import hashlib
import hmac
import json

from square.utils.webhooks_helper import verify_signature as square_verify_signature

from support import derived

from .common_a import (header, judged_cases, lower_names, node, pairs, resolve, returns, variant, vector,
                       with_second_opinion, without_header)

PY_PACKAGES = {"squareup": "46.0.0.20260916"}
NODE_PACKAGES = {"square": "46.0.0"}
NODE_SCRIPT = r"""
import { WebhooksHelper } from 'square';

const run = {
  async square(c) {
    const signature = header(c.headers, 'x-square-hmacsha256-signature');
    return (await WebhooksHelper.verifySignature({
      requestBody: c.body, signatureHeader: signature ?? '', signatureKey: c.secret, notificationUrl: c.url,
    })) === true;
  },
};
"""

SQUARE_SIG = "x-square-hmacsha256-signature"


def square_judge(requests):
    by_node = node(NODE_SCRIPT, [{"lib": "square", "secret": r["secret"], "body": r["body"], "url": r["url"],
                                  "headers": pairs(r["headers"])} for r in requests])
    out = []
    for r, node_ok in zip(requests, by_node):
        ok = returns(square_verify_signature, request_body=r["body"], signature_header=header(r["headers"], SQUARE_SIG) or "",
                     signature_key=r["secret"], notification_url=r["url"])
        out.append(with_second_opinion(ok, "squareup square.utils.webhooks_helper.verify_signature "
                                       "(notification_url: the case's url)",
                                       node_ok, "square WebhooksHelper.verifySignature"))
    return out


def square_signature(key, url, body, digest=hashlib.sha256):
    return base64.b64encode(hmac.new(key.encode(), (url + body).encode(), digest).digest()).decode()


def square_vector(name, key, wrong, url, body, headers, variants, produced):
    base = {"name": name, "secret": key, "wrong": wrong, "url": url, "body": body, "headers": headers, "now": None}
    cases = judged_cases(base, resolve(variants, base), square_judge)
    return vector(name, "square", key, wrong, None, url, body, headers, SQUARE_SIG, produced, cases)


def vectors():
    # The test vectors of Square's SDKs (square-python-sdk tests/utils/test_webhooks_helper.py and the
    # Node, Go, Java, PHP, Ruby and .NET ones).
    pub_body = ('{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":'
                '"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z",'
                '"data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}')
    pub_url = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
    pub_key = "Ibxx_5AKakO-3qeNVR61Dw"
    assert square_signature(pub_key, pub_url, pub_body) == "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="
    esc_body = '{"data":{"type":"webhooks","id":">id<"}}'
    assert square_signature("signature-key", "https://webhook.site/webhooks", esc_body) == "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U="

    key = base64.urlsafe_b64encode(derived("square", 16)).decode().rstrip("=")
    wrong = base64.urlsafe_b64encode(derived("square wrong", 16)).decode().rstrip("=")
    url = "https://hooks.example.com/in/src_square?env=production&source=square"
    event = {
        "merchant_id": "6SSW7HV8K2ST5", "type": "payment.updated", "event_id": "13b867cf-db3d-4b1c-90b6-2f32a9d78124",
        "created_at": "2023-11-14T22:13:20.123Z",
        "data": {"type": "payment", "id": "KkAkhdMsgzn59SM8A89WgKwekxLZY", "object": {"payment": {
            "id": "KkAkhdMsgzn59SM8A89WgKwekxLZY", "amount_money": {"amount": 1500, "currency": "EUR"},
            "status": "COMPLETED", "note": "Crème brûlée ×2 — «merci»", "location_id": "S8GWD5R9QB376",
            "created_at": "2023-11-14T22:13:18.456Z", "updated_at": "2023-11-14T22:13:20.101Z", "version": 3}}},
    }
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    headers = [("Content-Type", "application/json"), ("Square-Version", "2023-10-18"),
               ("Square-Environment", "Production"),
               ("X-Square-HmacSha256-Signature", square_signature(key, url, body)),
               ("X-Square-Signature", square_signature(key, url, body, hashlib.sha1))]

    def url_variant(name, other):
        return lambda b: variant(name, url=other)

    def published(name, key, url, body, signature, **changes):
        """A request of Square's SDK tests: a case, since tests/vectors.rs wants a vector's own URL to
        have /in/ in it."""
        return variant(f"Square's SDK tests' request{name}", secret=key, url=url, body=body,
                       headers=[("Content-Type", "application/json"), (SQUARE_SIG, signature)], **changes)

    pub_sig, esc_sig = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=", "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U="
    return [
        square_vector(
            "square payment.updated, URL with a query string, non-ASCII", key, wrong, url, body, headers,
            [
                lambda b: variant("header names in lower case", headers=lower_names(b["headers"])),
                url_variant("url with a trailing slash on the path", url.replace("src_square?", "src_square/?")),
                url_variant("url with the default port :443 added", url.replace("hooks.example.com/", "hooks.example.com:443/")),
                url_variant("url with http instead of https", url.replace("https://", "http://")),
                url_variant("url with the query params reordered", "https://hooks.example.com/in/src_square?source=square&env=production"),
                url_variant("url without its query string", "https://hooks.example.com/in/src_square"),
                url_variant("url with the host in upper case", url.replace("hooks.example.com", "HOOKS.EXAMPLE.COM")),
                lambda b: variant("only the legacy X-Square-Signature (HMAC-SHA1)",
                                  headers=without_header(b["headers"], SQUARE_SIG)),
                published("", pub_key, pub_url, pub_body, pub_sig),
                published(" with its mismatching url", pub_key, pub_url, pub_body, pub_sig)
                | {"url": "https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9"},
                published(" with > and < in the body", "signature-key", "https://webhook.site/webhooks", esc_body, esc_sig),
                published(" with > and < written \\u003e and \\u003c", "signature-key", "https://webhook.site/webhooks",
                          '{"data":{"type":"webhooks","id":"\\u003eid\\u003c"}}', esc_sig),
            ],
            "HMAC-SHA256 over notification URL + body as Square's docs and SDK verifiers compute it (the SDKs "
            "have no signer; X-Square-Signature, the legacy HMAC-SHA1, is computed the same way with SHA-1), "
            "checked by squareup verify_signature and square WebhooksHelper.verifySignature",
        ),
    ]
