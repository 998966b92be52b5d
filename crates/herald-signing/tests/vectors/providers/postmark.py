"""postmark (HTTP Basic auth): catalogue_b vectors.

Postmark signs nothing: its docs ("Webhooks overview → Protecting your webhook") put basic auth
credentials in the webhook URL (https://user:password@host). The Authorization header is built
by urllib3 make_headers and requests _basic_auth_str, which must agree, and judged by RFC 7617
(scheme name case-insensitive per RFC 9110 11.1): base64-decoded and compared whole with the
configured user:password. No official verifier; the body is not covered.
"""

import base64
import hmac

import requests.auth
import urllib3.util

from support import derived

from .common_b import compact, drop_header, judged_cases, one_by_one, rename_headers, replace_header, vector


POSTMARK_JUDGE = ("HTTP Basic credentials (RFC 7617; scheme name case-insensitive per RFC 9110 11.1): "
                  "base64-decoded and compared whole with the configured user:password; no official verifier")


def basic_auth_header(secret):
    """What an HTTP client makes of https://user:password@host: urllib3 and requests agreeing."""
    user, _, password = secret.partition(":")
    by_urllib3 = urllib3.util.make_headers(basic_auth=secret)["authorization"]
    by_requests = requests.auth._basic_auth_str(user, password)
    assert by_urllib3 == by_requests, (by_urllib3, by_requests)
    return by_urllib3


def postmark_accepts(secret, body, headers, now):
    value = next((v for n, v in headers if n.lower() == "authorization"), None)
    if value is None:
        return False
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except ValueError:
        return False
    return hmac.compare_digest(decoded.encode(), secret.encode())


def postmark_vector(name, secret, wrong, body):
    value = basic_auth_header(secret)
    headers = [("Authorization", value), ("Content-Type", "application/json"), ("User-Agent", "Postmark")]
    assert postmark_accepts(secret, body, headers, None)
    credentials = value.split(" ", 1)[1]
    user = secret.partition(":")[0]
    variants = [
        {"name": "wrong secret", "secret": wrong, "expect": False},
        {"name": "body altered (basic auth does not cover it)", "body": body + " ", "expect": True},
        {"name": "header name lower-case", "headers": rename_headers(headers, str.lower), "expect": True},
        {"name": "scheme spelled basic", "headers": replace_header(headers, "Authorization", "basic " + credentials),
         "expect": True},
        {"name": "Bearer with the same credentials",
         "headers": replace_header(headers, "Authorization", "Bearer " + credentials), "expect": False},
        {"name": "the user name alone",
         "headers": replace_header(headers, "Authorization", basic_auth_header(user + ":")), "expect": False},
        {"name": "no Authorization header", "headers": drop_header(headers, "Authorization"), "expect": False},
    ]
    cases = judged_cases(variants, one_by_one(postmark_accepts), POSTMARK_JUDGE, headers=headers, secret=secret,
                         now=None, body=body)
    return vector(name, "postmark", secret, wrong, None, body, headers, "authorization",
                  "HTTP Basic credentials of the webhook URL (Postmark docs: https://user:password@host), "
                  "built by urllib3 make_headers and requests, agreeing", cases)


def vectors():
    delivery = compact({
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": "john@example.com",
        "Tag": "welcome-email",
        "DeliveredAt": "2023-11-14T22:13:20.9070259Z",
        "Details": "Test delivery webhook details",
        "Metadata": {"example": "value", "example_2": "value"},
    })
    bounce = compact({
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "Test",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "Test bounce details",
        "Email": "søren@example.com",
        "From": "sender@example.com",
        "BouncedAt": "2023-11-14T22:20:00Z",
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Bienvenue à bord",
    }, ascii_only=False)
    return [
        postmark_vector("postmark delivery", "herald-postmark:" + derived("postmark", 12).hex(),
                        "herald-postmark:" + derived("postmark wrong", 12).hex(), delivery),
        postmark_vector("postmark bounce, password with a colon (non-ASCII body)",
                        "hooks:pm:" + derived("postmark colon", 9).hex(),
                        "hooks:pm:" + derived("postmark colon wrong", 9).hex(), bounce),
    ]
