"""twitch (EventSub webhooks): catalogue_b vectors.

No official library. Signed and judged by the Node example of Twitch's docs, "Handling Webhook
Events" → "Verifying the event message" (its getHmacMessage / getHmac / verifyMessage, copied
into the Node side in common_b.NODE_SCRIPT and fed what Express hands the handler), with the
EventSub overview's replay rule: refuse a message older than 10 minutes (nothing is said of
timestamps ahead of the clock). Python hmac cross-checks the signature. A
webhook_callback_verification message is answered with its challenge as text/plain.
"""

import hashlib
import hmac
import json
from datetime import datetime, timezone

from support import derived

from .common_b import compact, drop_header, edge_variants, judged_cases, node, rename_headers, replace_header, vector


TWITCH_JUDGE = ("Twitch docs' Node example (verifyMessage over getHmacMessage, Node crypto) and the docs' "
                "replay rule (refuse if older than 10 minutes), no official library")
TWITCH_WINDOW_S = 600


def rfc3339_seconds(text: str) -> int:
    """The whole UNIX seconds of an RFC 3339 UTC time with any fraction (floor)."""
    whole = text.rstrip("Z").split(".")[0]
    return int(datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp())


def twitch_judge_many(requests_):
    results = node([{"kind": "twitchCheck", "secret": r["secret"], "headers": r["headers"], "body": r["body"],
                     "now": r["now"]} for r in requests_])
    return [r["accepted"] for r in results]


def twitch_vector(name, secret, wrong, msg_id, stamp, msg_type, sub_type, body):
    [signed] = node([{"kind": "twitchSign", "secret": secret, "id": msg_id, "timestamp": stamp, "body": body}])
    signature = signed["signature"]
    assert signature == "sha256=" + hmac.new(secret.encode(), (msg_id + stamp + body).encode(), hashlib.sha256).hexdigest()
    ts = rfc3339_seconds(stamp)
    headers = [
        ("Twitch-Eventsub-Message-Id", msg_id),
        ("Twitch-Eventsub-Message-Retry", "0"),
        ("Twitch-Eventsub-Message-Type", msg_type),
        ("Twitch-Eventsub-Message-Signature", signature),
        ("Twitch-Eventsub-Message-Timestamp", stamp),
        ("Twitch-Eventsub-Subscription-Type", sub_type),
        ("Twitch-Eventsub-Subscription-Version", "2"),
        ("Content-Type", "application/json"),
    ]
    [own] = node([{"kind": "twitchCheck", "secret": secret, "headers": headers, "body": body, "now": ts}])
    assert own["accepted"], own
    hex_part = signature.removeprefix("sha256=")
    millis = stamp.split(".")[0] + "." + (stamp.split(".")[1].rstrip("Z") + "000")[:3] + "Z"
    variants = [
        {"name": "wrong secret", "secret": wrong, "expect": False},
        {"name": "tampered body (one more space)", "body": body + " ", "expect": False},
        *edge_variants(ts, TWITCH_WINDOW_S, future_refused=False),
        {"name": "header names lower-case", "headers": rename_headers(headers, str.lower), "expect": True},
        {"name": "header names upper-case", "headers": rename_headers(headers, str.upper), "expect": True},
        {"name": "signature hex in upper case",
         "headers": replace_header(headers, "Twitch-Eventsub-Message-Signature", "sha256=" + hex_part.upper()),
         "expect": False},
        {"name": "signature without sha256=",
         "headers": replace_header(headers, "Twitch-Eventsub-Message-Signature", hex_part), "expect": False},
        {"name": "timestamp header rewritten to milliseconds (same instant, other text)",
         "headers": replace_header(headers, "Twitch-Eventsub-Message-Timestamp", millis), "expect": False},
        {"name": "another message id",
         "headers": replace_header(headers, "Twitch-Eventsub-Message-Id", msg_id[:-1] + "0"), "expect": False},
        {"name": "no signature header", "headers": drop_header(headers, "Twitch-Eventsub-Message-Signature"),
         "expect": False},
    ]
    cases = judged_cases(variants, twitch_judge_many, TWITCH_JUDGE, headers=headers, secret=secret, now=ts, body=body)
    handshake = None
    if msg_type == "webhook_callback_verification":
        assert own["reply"] == json.loads(body)["challenge"]
        handshake = {"content_type": "text/plain", "body": own["reply"]}
    else:
        assert own["reply"] is None
    return vector(name, "twitch", secret, wrong, ts, body, headers, "twitch-eventsub-message-signature",
                  "Twitch docs' Node example (getHmac over getHmacMessage, Node crypto), checked by its "
                  "verifyMessage and the docs' 10-minute replay rule; no official library", cases, handshake)


def vectors():
    secret = derived("twitch", 20).hex()
    wrong = derived("twitch wrong", 20).hex()
    subscription = {
        "id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4",
        "status": "enabled",
        "type": "channel.follow",
        "version": "2",
        "condition": {"broadcaster_user_id": "1337", "moderator_user_id": "1337"},
        "transport": {"method": "webhook", "callback": "https://hooks.example.com/in/src_twitch"},
        "created_at": "2023-11-14T21:50:00.634234626Z",
        "cost": 0,
    }
    notification = compact({
        "subscription": subscription,
        "event": {
            "user_id": "1234",
            "user_login": "cool_user",
            "user_name": "クールなユーザー",
            "broadcaster_user_id": "1337",
            "broadcaster_user_login": "cooler_user",
            "broadcaster_user_name": "Cooler_User",
            "followed_at": "2023-11-14T22:13:19.987654321Z",
        },
    })
    verification = compact({
        "challenge": "pogchamp-kappa-360noscope-vohiyo",
        "subscription": dict(subscription, status="webhook_callback_verification_pending"),
    })
    revocation = compact({"subscription": dict(subscription, status="authorization_revoked")})
    return [
        twitch_vector("twitch notification (channel.follow, non-ASCII user name)", secret, wrong,
                      "befa7b53-d79d-478f-86b9-120f112b044e", "2023-11-14T22:13:20.123456789Z", "notification",
                      "channel.follow", notification),
        twitch_vector("twitch webhook_callback_verification", secret, wrong,
                      "e76c6bd4-55c9-4987-8304-da1588d8988b", "2023-11-14T21:50:00.999999999Z",
                      "webhook_callback_verification", "channel.follow", verification),
        twitch_vector("twitch revocation (short fraction)", secret, wrong,
                      "84c1e79a-2a4b-4c13-ba0b-4312293e9308", "2023-11-14T23:13:20.50215Z", "revocation",
                      "channel.follow", revocation),
    ]
