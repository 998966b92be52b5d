"""zoom: catalogue_b vectors.

Judged by npm @zoom/rivet 0.4.0, the official package Zoom's docs ("Using webhooks" → "Verify
webhook events", "Validate your webhook endpoint") point to: its AwsLambdaReceiver
(CommonHttpRequest.isEventVerified / processEvent), run on the Node side in common_b. Rivet has
no signer, so requests are signed with the docs' computation (v0= + hex HMAC-SHA256 of
v0:{timestamp}:{body}) in Node crypto, checked against Python hmac; endpoint.url_validation gets
the docs' {plainToken, encryptedToken} reply, which rivet's must equal as JSON. No source checks
the time, so there are no time cases.
"""

import base64
import hashlib
import hmac
import json

from support import derived

from .common_b import compact, judged_cases, node, rename_headers, replace_header, vector


ZOOM_JUDGE = "@zoom/rivet AwsLambdaReceiver (CommonHttpRequest.isEventVerified)"


def zoom_checks(requests_):
    results = node([{"kind": "zoomCheck", "secret": r["secret"], "headers": r["headers"], "body": r["body"]}
                    for r in requests_])
    # rivet signs JSON.stringify(JSON.parse(body)): only bodies it re-serialises byte for byte
    # give a verdict that is also the raw body's.
    assert all(r["roundtrip"] for r in results), results
    return results


def zoom_vector(name, secret, wrong, ts, body):
    plain = json.loads(body)["payload"].get("plainToken")
    [signed] = node([{"kind": "zoomSign", "secret": secret, "timestamp": str(ts), "body": body, "plainToken": plain}])
    signature = signed["signature"]
    assert signature == "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = [
        ("x-zm-request-timestamp", str(ts)),
        ("x-zm-signature", signature),
        ("content-type", "application/json; charset=utf-8"),
        ("user-agent", "Zoom Marketplace/1.0a"),
        ("x-zm-trackingid", "v=2.0;clid=us06;rid=WEB_" + derived(name, 16).hex()),
    ]
    [own] = zoom_checks([{"secret": secret, "headers": headers, "body": body}])
    assert own["accepted"], own
    tampered = body.replace('"event_ts":1', '"event_ts":2', 1)
    assert tampered != body
    hex_part = signature.removeprefix("v0=")
    variants = [
        {"name": "wrong secret", "secret": wrong, "expect": False},
        {"name": "tampered body (event_ts changed)", "body": tampered, "expect": False},
        {"name": "header names in title case",
         "headers": rename_headers(headers, lambda n: "-".join(p.capitalize() for p in n.split("-"))), "expect": True},
        {"name": "header names upper-case", "headers": rename_headers(headers, str.upper), "expect": True},
        {"name": "signature hex in upper case",
         "headers": replace_header(headers, "x-zm-signature", "v0=" + hex_part.upper()), "expect": False},
        {"name": "unknown version v1=", "headers": replace_header(headers, "x-zm-signature", "v1=" + hex_part),
         "expect": False},
        {"name": "timestamp header one second later",
         "headers": replace_header(headers, "x-zm-request-timestamp", str(ts + 1)), "expect": False},
    ]
    cases = judged_cases(variants, lambda rs: [r["accepted"] for r in zoom_checks(rs)], ZOOM_JUDGE,
                         headers=headers, secret=secret, now=ts, body=body)
    handshake = None
    if plain is not None:
        handshake_body = compact({"plainToken": plain, "encryptedToken": signed["encryptedToken"]})
        assert json.loads(own["reply"]) == json.loads(handshake_body), (own["reply"], handshake_body)
        assert own["contentType"] == "application/json"
        handshake = {"content_type": "application/json", "body": handshake_body}
    return vector(name, "zoom", secret, wrong, ts, body, headers, "x-zm-signature",
                  "Zoom docs' signing computation (HMAC-SHA256 hex of v0:{timestamp}:{body}, Node crypto), "
                  "checked by @zoom/rivet AwsLambdaReceiver" + (" (its url_validation reply equals the docs')"
                                                              if plain else ""), cases, handshake)


def vectors():
    secret = base64.urlsafe_b64encode(derived("zoom", 16)).decode().rstrip("=")
    wrong = base64.urlsafe_b64encode(derived("zoom wrong", 16)).decode().rstrip("=")
    started = compact({
        "event": "meeting.started",
        "payload": {
            "account_id": "D8cJuqWVQ623CI4Q8yQK0Q",
            "object": {
                "id": "93479258421",
                "uuid": "4444AAAiAAAAAiAiAiiAii==",
                "host_id": "x1yCzABCDEfg23HiJKl4mN",
                "topic": "Réunion d'équipe — point hebdo",
                "type": 2,
                "start_time": "2023-11-14T22:15:00Z",
                "timezone": "Europe/Paris",
                "duration": 60,
            },
        },
        "event_ts": 1700000100123,
    })
    validation = compact({"payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}, "event_ts": 1700000200456,
                          "event": "endpoint.url_validation"})
    return [
        zoom_vector("zoom meeting.started (non-ASCII topic)", secret, wrong, 1700000100, started),
        zoom_vector("zoom endpoint.url_validation", secret, wrong, 1700000200, validation),
    ]
