"""Signs a request the way each provider's own library does, at the current time.

Reads {"scheme", "secret", "body"} on stdin and prints the headers to send as JSON.
Used by the inbound tests so that herald is checked against the providers' code,
not against our own reading of their docs.
"""
import datetime
import json
import sys
import time

req = json.load(sys.stdin)
scheme, secret, body = req["scheme"], req["secret"], req["body"]
now = int(time.time())

if scheme == "standard":
    from standardwebhooks.webhooks import Webhook

    when = datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc)
    headers = {
        "webhook-id": "msg_official_1",
        "webhook-timestamp": str(now),
        "webhook-signature": Webhook(secret).sign("msg_official_1", when, body),
    }
elif scheme == "stripe":
    import stripe

    headers = {"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=now)}
elif scheme == "slack":
    from slack_sdk.signature import SignatureVerifier

    headers = {
        "X-Slack-Request-Timestamp": str(now),
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=str(now), body=body),
    }
else:
    sys.exit(f"unknown scheme {scheme}")

print(json.dumps(headers))
