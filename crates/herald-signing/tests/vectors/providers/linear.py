"""linear: catalogue_a vectors.

@linear/sdk has no signer, so requests are signed with the computation its verifier checks: hex
HMAC-SHA256 of the body. Judged by npm @linear/sdk 98.0.0 LinearWebhookClient.createHandler() on a
fetch Request (Date frozen), whose verdict is the case's; LinearWebhookClient.parseData is asked
too and its agreement noted in `judged_by`. The time is the body's webhookTimestamp (ms), 60 s
either way; the Linear-Timestamp header is ignored.
"""

import hashlib
import hmac
import json

from support import derived

from .common_a import (header, judged_cases, lower_names, ms, node, pairs, replace_header, resolve, time_variants,
                       variant, vector, without_header)

PY_PACKAGES = {}
NODE_PACKAGES = {"@linear/sdk": "98.0.0"}
NODE_SCRIPT = r"""
import { LinearWebhookClient } from '@linear/sdk/webhooks';

const run = {
  async linear(c) {
    const handler = new LinearWebhookClient(c.secret).createHandler();
    const response = await handler(new Request(c.url, { method: c.method, headers: c.headers, body: c.body }));
    let parsed;
    try {
      const signature = header(c.headers, 'linear-signature');
      parsed = new LinearWebhookClient(c.secret).parseData(Buffer.from(c.body, 'utf-8'), signature) !== undefined;
    } catch { parsed = false; }
    return { handler: response.status === 200, status: response.status, parseData: parsed };
  },
};
"""

LINEAR_TOLERANCE_S = 60  # @linear/sdk: |Date.now() - webhookTimestamp| > 60 * 1000 refused
LINEAR_URL = "https://hooks.example.com/in/src_linear"


def linear_judge(requests):
    results = node(NODE_SCRIPT, [{"lib": "linear", "now_ms": ms(r["now"]), "secret": r["secret"], "body": r["body"],
                                  "url": LINEAR_URL, "method": r["method"], "headers": pairs(r["headers"])}
                                 for r in requests])
    out = []
    for r in results:
        agreement = "parseData agrees" if r["parseData"] == r["handler"] else (
            f"parseData disagrees: it {'accepts' if r['parseData'] else 'rejects'}")
        out.append((r["handler"], f"@linear/sdk LinearWebhookClient.createHandler() on a fetch Request "
                                  f"(answers {r['status']}; {agreement})", None))
    return out


def linear_signature(secret, body):
    return hmac.new(secret.encode(), body.encode("utf-8"), hashlib.sha256).hexdigest()


def linear_vector(name, secret, wrong, ts, body, headers, variants):
    assert json.loads(body)["webhookTimestamp"] == ts * 1000
    headers = [(n, linear_signature(secret, body) if v is None else v) for n, v in headers]
    base = {"name": name, "secret": secret, "wrong": wrong, "url": None, "body": body, "headers": headers, "now": ts,
            "method": "POST"}
    cases = judged_cases(base, resolve(variants, base), linear_judge)
    return vector(name, "linear", secret, wrong, ts, None, body, headers, "linear-signature",
                  "HMAC-SHA256 hex of the body as @linear/sdk LinearWebhookClient.verify computes it (the SDK has no "
                  "signer), checked by LinearWebhookClient.createHandler() and parseData", cases)


def vectors():
    secret, wrong = "lin_wh_" + derived("linear", 20).hex(), "lin_wh_" + derived("linear wrong", 20).hex()
    ts1, ts2 = 1700000600, 1700000660
    issue = {
        "action": "create", "actor": {"id": "2e1f6b2c-8d3e-4a57-9c1b-6f0e2d3a4b5c", "name": "Jane Doe", "type": "user"},
        "createdAt": "2023-11-14T22:23:19.874Z",
        "data": {"id": "7f3c1a2b-4d5e-4f60-8a71-9b0c1d2e3f40", "identifier": "ENG-123", "number": 123,
                 "title": "Webhook retries", "priority": 2, "teamId": "3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d",
                 "stateId": "1b2c3d4e-5f60-4718-92a3-b4c5d6e7f809", "createdAt": "2023-11-14T22:23:19.874Z"},
        "url": "https://linear.app/herald/issue/ENG-123/webhook-retries", "type": "Issue",
        "organizationId": "0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f", "webhookTimestamp": ts1 * 1000,
        "webhookId": "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a",
    }
    body1 = json.dumps(issue, separators=(",", ":"))
    comment = {
        "action": "create", "actor": {"id": "2e1f6b2c-8d3e-4a57-9c1b-6f0e2d3a4b5c", "name": "Zoë Ünal", "type": "user"},
        "createdAt": "2023-11-14T22:24:19.501Z",
        "data": {"id": "4c3b2a19-0817-4f6e-9d5c-4b3a29180706", "body": "Sieht gut aus — «ça marche» ✅",
                 "issueId": "7f3c1a2b-4d5e-4f60-8a71-9b0c1d2e3f40", "userId": "2e1f6b2c-8d3e-4a57-9c1b-6f0e2d3a4b5c",
                 "createdAt": "2023-11-14T22:24:19.501Z"},
        "url": "https://linear.app/herald/issue/ENG-123/webhook-retries#comment-4c3b2a19", "type": "Comment",
        "organizationId": "0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f", "webhookTimestamp": ts2 * 1000,
        "webhookId": "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a",
    }
    body2 = json.dumps(comment, ensure_ascii=False, separators=(",", ":"))
    agent = [("Content-Type", "application/json; charset=utf-8"), ("User-Agent", "Linear-Webhook")]

    def resigned(b, new_body):
        """A variant whose body is another one, signed anew with the vector's secret."""
        return dict(body=new_body, headers=replace_header(b["headers"], "Linear-Signature",
                                                          linear_signature(secret, new_body)))

    def with_issue(**changes):
        doc = {k: v for k, v in issue.items() if k != "webhookTimestamp"}
        doc.update(changes)
        return json.dumps(doc, separators=(",", ":"))

    def sig(b):
        return header(b["headers"], "Linear-Signature")

    return [
        linear_vector("linear Issue create", secret, wrong, ts1, body1, [
            *agent, ("Linear-Delivery", "5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c"), ("Linear-Event", "Issue"),
            ("Linear-Signature", None), ("Linear-Timestamp", str(ts1 * 1000)),
        ], [
            *time_variants(ts1, LINEAR_TOLERANCE_S),
            lambda b: variant("header names in lower case", headers=lower_names(b["headers"])),
            lambda b: variant("signature in upper-case hex",
                              headers=replace_header(b["headers"], "Linear-Signature", sig(b).upper())),
            lambda b: variant("signature with a sha256= prefix",
                              headers=replace_header(b["headers"], "Linear-Signature", "sha256=" + sig(b))),
            lambda b: variant("Linear-Timestamp header an hour old, webhookTimestamp fresh",
                              headers=replace_header(b["headers"], "Linear-Timestamp", str((ts1 - 3600) * 1000))),
            lambda b: variant("no Linear-Timestamp header", headers=without_header(b["headers"], "Linear-Timestamp")),
            lambda b: variant("body without webhookTimestamp, fresh Linear-Timestamp header (re-signed)",
                              **resigned(b, with_issue())),
            lambda b: variant("webhookTimestamp as a string (re-signed)",
                              **resigned(b, with_issue(webhookTimestamp=str(ts1 * 1000)))),
            lambda b: variant("webhookTimestamp in seconds (re-signed)", **resigned(b, with_issue(webhookTimestamp=ts1))),
            lambda b: variant("webhookTimestamp 1 ms past the window (re-signed)",
                              **resigned(b, with_issue(webhookTimestamp=(ts1 - LINEAR_TOLERANCE_S) * 1000 - 1))),
            lambda b: variant("webhookTimestamp 1 ms too far in the future (re-signed)",
                              **resigned(b, with_issue(webhookTimestamp=(ts1 + LINEAR_TOLERANCE_S) * 1000 + 1))),
            lambda b: variant("webhookTimestamp 999 ms inside the future edge (re-signed)",
                              **resigned(b, with_issue(webhookTimestamp=(ts1 + LINEAR_TOLERANCE_S) * 1000 - 999))),
            lambda b: variant("no Linear-Signature header", headers=without_header(b["headers"], "Linear-Signature")),
        ]),
        linear_vector("linear Comment create, non-ASCII", secret, wrong, ts2, body2, [
            *agent, ("Linear-Delivery", "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d"), ("Linear-Event", "Comment"),
            ("Linear-Signature", None),
        ], [
            lambda b: variant("header names in lower case", headers=lower_names(b["headers"])),
            lambda b: variant("body re-encoded with \\u escapes (signature kept)",
                              body=json.dumps(comment, separators=(",", ":"))),
        ]),
    ]
