"""pagerduty (v3 webhooks, X-PagerDuty-Signature): catalogue_b vectors.

No official Python/JS verifier. Signed with the docs' computation (v1= + hex HMAC-SHA256 of the
body) and judged by the PagerDutyVerifier of PagerDuty's docs, "Verifying Signatures" (Python
example, copied verbatim). A reading of go-pagerduty webhookv3.VerifySignature (PagerDuty's Go
client) must agree on every case written; where they part (upper-case hex) the variant is left
out and recorded in DISAGREEMENTS.
"""

import base64
import hashlib
import hmac

from support import derived

from .common_b import DISAGREEMENTS, compact, judged_cases, one_by_one, rename_headers, replace_header, vector


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


def vectors():
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
