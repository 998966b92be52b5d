"""twilio: catalogue_a vectors.

Signed by twilio 9.13.0 (PyPI) RequestValidator.compute_signature and judged by its
RequestValidator.validate, given what a web framework hands it: the parsed form (a MultiDict) for a
form Content-Type, else the raw body; and the algorithm get_signature_algorithm reads from
X-Twilio-Webhooks-Signature-Settings. twilio-python's own published test requests are cases. The
SharedKey HMAC-SHA256 vector (X-Twilio-Webhooks-Signature-Settings) is replayed like the others.
Twilio's Node SDK is not consulted.
"""

import base64
import hashlib
import json
import logging
from urllib.parse import parse_qsl, urlencode

from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm

from support import derived

from .common_a import header, judged_cases, lower_names, replace_header, resolve, returns, variant, vector, without_header

PY_PACKAGES = {"twilio": "9.13.0"}
NODE_PACKAGES = {}

logging.getLogger("twilio").setLevel(logging.ERROR)  # validate() warns about unknown algorithms


class FormParams:
    """POST params as a web framework hands them over (a MultiDict with getlist, as Django's
    QueryDict and werkzeug's MultiDict have), which RequestValidator reads repeated names from."""

    def __init__(self, items):
        self.items = list(items)

    def __iter__(self):
        return iter(dict.fromkeys(n for n, _ in self.items))

    def __len__(self):
        return len(self.items)

    def getlist(self, name):
        return [v for n, v in self.items if n == name]


def twilio_params(headers, body):
    """What the validator is given: the parsed form for a form body, else the raw body string (as a
    web framework hands them over, by Content-Type). No case sends a Content-Type that disagrees
    with its body: the verdict would then depend on the framework, not on the validator."""
    content_type = (header(headers, "Content-Type") or "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        return FormParams(parse_qsl(body, keep_blank_values=True))
    return body


TWILIO_JUDGE = ("twilio RequestValidator.validate (params: the parsed form for a form content-type, else the raw "
                "body; algorithm: get_signature_algorithm(X-Twilio-Webhooks-Signature-Settings))")


def twilio_judge(requests):
    out = []
    for r in requests:
        signature = header(r["headers"], "X-Twilio-Signature")
        algorithm = get_signature_algorithm(header(r["headers"], SIGNATURE_SETTINGS_HEADER))
        ok = signature is not None and returns(RequestValidator(r["secret"]).validate, r["url"],
                                               twilio_params(r["headers"], r["body"]), signature, algorithm)
        out.append((ok, TWILIO_JUDGE, None))
    return out


def twilio_vector(name, token, wrong, url, body, headers, variants, *, produced, algorithm=None):
    validator = RequestValidator(token)
    if header(headers, "Content-Type").startswith("application/x-www-form-urlencoded"):
        signature = validator.compute_signature(url, twilio_params(headers, body), algorithm)
    else:
        assert validator.compute_hash(body) in url
        signature = validator.compute_signature(url, {}, algorithm)
    headers = [("X-Twilio-Signature", signature), *headers]
    base = {"name": name, "secret": token, "wrong": wrong, "url": url, "body": body, "headers": headers, "now": None}
    cases = judged_cases(base, resolve(variants, base), twilio_judge)
    return vector(name, "twilio", token, wrong, None, url, body, headers, "x-twilio-signature",
                  produced + ", checked by RequestValidator.validate", cases)


def twilio_resign(token, url, body, headers, algorithm=None):
    """The headers with X-Twilio-Signature recomputed over another url/body (a request Twilio could send)."""
    validator = RequestValidator(token)
    params = twilio_params(headers, body)
    signature = validator.compute_signature(url, params if not isinstance(params, str) else {}, algorithm)
    return replace_header(headers, "X-Twilio-Signature", signature)


def vectors():
    form = ("Content-Type", "application/x-www-form-urlencoded")
    twilio_agent = [("I-Twilio-Idempotency-Token", "0c3d4bd4-9c63-4f3e-a1d5-2f6c1b5d8e21"),
                    ("User-Agent", "TwilioProxy/1.1")]

    # twilio-python's own tests (tests/unit/test_request_validator.py): token, URL, params and signatures.
    published_params = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"), ("Digits", "1234"),
                        ("From", "+14158675309"), ("To", "+18005551212")]
    published_url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    published_body = urlencode(published_params)
    json_body = '{"property": "value", "boolean": true}'
    json_url = published_url + "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    json_url_upper = published_url + "&bodySHA256=" + "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620".upper()

    sms_token = derived("twilio sms", 16).hex()
    sms_url = "https://hooks.example.com/in/src_twilio_sms"
    sms_params = [
        ("ToCountry", "US"), ("ToState", "CA"), ("SmsMessageSid", "SM8b2c1f2a3d4e5f60718293a4b5c6d7e8"),
        ("NumMedia", "0"), ("ToCity", "SAN FRANCISCO"), ("FromZip", ""), ("SmsSid", "SM8b2c1f2a3d4e5f60718293a4b5c6d7e8"),
        ("FromState", "CA"), ("SmsStatus", "received"), ("FromCity", "OAKLAND"),
        ("Body", "Café ☕ at 5? Ünterwegs & 50% sure"), ("FromCountry", "US"), ("To", "+14155550100"),
        ("ToZip", "94105"), ("NumSegments", "1"), ("MessageSid", "SM8b2c1f2a3d4e5f60718293a4b5c6d7e8"),
        ("AccountSid", "AC" + derived("twilio account", 16).hex()), ("From", "+15105550199"),
        ("ApiVersion", "2010-04-01"),
    ]
    sms_body = urlencode(sms_params)

    voice_token = derived("twilio voice", 16).hex()
    voice_url = "https://hooks.example.com:443/in/src_twilio_voice"
    voice_body = urlencode([
        ("AccountSid", "AC" + derived("twilio account", 16).hex()), ("ApiVersion", "2010-04-01"),
        ("CallSid", "CA" + derived("twilio call", 16).hex()), ("CallStatus", "completed"), ("Called", "+14155550100"),
        ("Caller", "+15105550199"), ("Direction", "inbound"), ("Duration", "1"), ("From", "+15105550199"),
        ("To", "+14155550100"), ("CallDuration", "17"), ("Timestamp", "Tue, 14 Nov 2023 22:13:20 +0000"),
    ])

    repeat_token = derived("twilio repeated", 16).hex()
    repeat_url = "https://hooks.example.com/in/src_twilio_studio"
    repeat_items = [("FlowSid", "FW" + derived("twilio flow", 16).hex()), ("Tag", "vip"), ("Step", "survey"),
                    ("Tag", "beta"), ("Answer", "yes"), ("Answer", "no")]
    repeat_body = urlencode(repeat_items)

    events_token = derived("twilio events", 16).hex()
    events_body = json.dumps([{
        "specversion": "1.0", "type": "com.twilio.messaging.message.delivered", "source": "/2010-04-01/Accounts/AC/Messages/SM",
        "id": "EZ" + derived("twilio event", 16).hex(), "dataschema": "https://events-schemas.twilio.com/Messaging.MessageStatus/4",
        "datacontenttype": "application/json", "time": "2023-11-14T22:13:20.000Z",
        "data": {"messageSid": "SM" + derived("twilio event msg", 16).hex(), "messageStatus": "DELIVERED",
                 "to": "+4915112345678", "body": "Grüße aus Köln"},
    }], ensure_ascii=False, separators=(",", ":"))
    events_hash = hashlib.sha256(events_body.encode()).hexdigest()
    events_url = f"https://hooks.example.com/in/src_twilio_events?bodySHA256={events_hash}"

    shared_token = base64.b64encode(derived("twilio shared key", 24)).decode()
    shared_url = "https://hooks.example.com/in/src_twilio_shared"
    shared_settings = f"key=webhooks_sharedkey_{derived('twilio shared key id', 8).hex()},algorithm=HMAC_SHA256"
    shared_body = urlencode([("AccountSid", "AC" + derived("twilio account", 16).hex()),
                             ("MessageSid", "SM" + derived("twilio shared msg", 16).hex()),
                             ("MessageStatus", "delivered"), ("To", "+14155550100"), ("From", "+15105550199"),
                             ("ApiVersion", "2010-04-01")])

    def reordered(body):
        return urlencode(list(reversed(parse_qsl(body, keep_blank_values=True))))

    published_form = [("X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8="), form]
    published_json = [("X-Twilio-Signature", "a9nBmqA0ju/hNViExpshrM61xv4="), ("Content-Type", "application/json")]
    assert RequestValidator("12345").compute_signature(published_url, twilio_params([form], published_body)) == \
        published_form[0][1]
    assert RequestValidator("12345").compute_signature(json_url, {}) == published_json[0][1]
    assert RequestValidator("12345").validate(json_url, json_body, published_json[0][1])

    def published(name, headers, **changes):
        """twilio-python's own test request (its token, URL, params/body and signature): a case, since
        tests/vectors.rs wants a vector's own URL to have /in/ in it."""
        return variant(f"twilio-python's published test request{name}", secret="12345", headers=headers,
                       **{"url": published_url, "body": published_body, **changes})

    replayed = [
        twilio_vector(
            "twilio SMS form params, non-ASCII and a blank param",
            sms_token, derived("twilio sms wrong", 16).hex(), sms_url, sms_body, [form, *twilio_agent],
            [
                lambda b: variant("url with the default port :443 added", url="https://hooks.example.com:443/in/src_twilio_sms"),
                lambda b: variant("url with another port :8443 (the validator strips any port)",
                                  url="https://hooks.example.com:8443/in/src_twilio_sms"),
                lambda b: variant("url with http instead of https", url="http://hooks.example.com/in/src_twilio_sms"),
                lambda b: variant("url with a trailing slash", url=sms_url + "/"),
                lambda b: variant("url with an unsigned query string", url=sms_url + "?x=1"),
                lambda b: variant("form params in the reverse order", body=reordered(b["body"])),
                lambda b: variant("the blank param FromZip left out", body=b["body"].replace("FromZip=&", "")),
                lambda b: variant("spaces as %20 instead of + in the form body", body=b["body"].replace("+", "%20")),
                lambda b: variant("header names in lower case", headers=lower_names(b["headers"])),
                lambda b: variant("content-type with a charset parameter",
                                  headers=replace_header(b["headers"], "Content-Type",
                                                         "application/x-www-form-urlencoded; charset=UTF-8")),
                lambda b: variant("no X-Twilio-Signature header", headers=without_header(b["headers"], "X-Twilio-Signature")),
                published(" (form params)", published_form),
                published(" with the default port :443 added", published_form,
                          url="https://mycompany.com:443/myapp.php?foo=1&bar=2"),
                published(" with its url's query params reordered", published_form,
                          url="https://mycompany.com/myapp.php?bar=2&foo=1"),
                published(" with a query param repeated in the form body", published_form,
                          body=published_body + "&foo=1"),
            ],
            produced="twilio RequestValidator.compute_signature",
        ),
        twilio_vector(
            "twilio voice status callback, URL signed with :443",
            voice_token, derived("twilio voice wrong", 16).hex(), voice_url, voice_body, [form, *twilio_agent],
            [
                lambda b: variant("url without the port", url="https://hooks.example.com/in/src_twilio_voice"),
                lambda b: variant("url with :80 instead", url="https://hooks.example.com:80/in/src_twilio_voice"),
                lambda b: variant("url with :8443 instead", url="https://hooks.example.com:8443/in/src_twilio_voice"),
            ],
            produced="twilio RequestValidator.compute_signature",
        ),
        twilio_vector(
            "twilio repeated param names",
            repeat_token, derived("twilio repeated wrong", 16).hex(), repeat_url, repeat_body, [form],
            [
                lambda b: variant("the repeated values in the other order",
                                  body=urlencode([("FlowSid", repeat_items[0][1]), ("Tag", "beta"), ("Step", "survey"),
                                                  ("Tag", "vip"), ("Answer", "no"), ("Answer", "yes")])),
                lambda b: variant("a value repeated twice (the validator counts each value once)",
                                  body=b["body"] + "&Tag=vip"),
                lambda b: variant("one of the repeated values left out", body=b["body"].replace("&Tag=beta", "")),
            ],
            produced="twilio RequestValidator.compute_signature over a MultiDict of the form",
        ),
        twilio_vector(
            "twilio JSON body with bodySHA256, non-ASCII",
            events_token, derived("twilio events wrong", 16).hex(), events_url, events_body,
            [("Content-Type", "application/json"), *twilio_agent],
            [
                lambda b: variant("url with the default port :443 added",
                                  url=events_url.replace("hooks.example.com/", "hooks.example.com:443/")),
                lambda b: variant("header names in lower case", headers=lower_names(b["headers"])),
                published(" (JSON body, bodySHA256)", published_json, url=json_url, body=json_body),
                published(" (JSON) with the default port :443 added", published_json,
                          url=json_url.replace("mycompany.com/", "mycompany.com:443/"), body=json_body),
                published(" (JSON) with a body that does not match bodySHA256", published_json, url=json_url,
                          body='{"property": "value", "boolean": false}'),
                published(" (JSON) with bodySHA256 in upper-case hex, url re-signed", twilio_resign(
                    "12345", json_url_upper, json_body, published_json), url=json_url_upper, body=json_body),
            ],
            produced="twilio RequestValidator.compute_signature over the URL (with bodySHA256 = compute_hash(body))",
        ),
    ]
    not_replayed = [
        twilio_vector(
            "twilio SharedKey HMAC_SHA256 (X-Twilio-Webhooks-Signature-Settings)",
            shared_token, base64.b64encode(derived("twilio shared key wrong", 24)).decode(), shared_url, shared_body,
            [form, (SIGNATURE_SETTINGS_HEADER, shared_settings), *twilio_agent],
            [
                lambda b: variant("without the settings header (then HMAC_SHA1 is expected)",
                                  headers=without_header(b["headers"], SIGNATURE_SETTINGS_HEADER)),
                lambda b: variant("settings header name in lower case", headers=lower_names(b["headers"])),
                lambda b: variant("algorithm spelled in lower case",
                                  headers=replace_header(b["headers"], SIGNATURE_SETTINGS_HEADER,
                                                         shared_settings.replace("HMAC_SHA256", "hmac_sha256"))),
                lambda b: variant("spaces around the settings' parts",
                                  headers=replace_header(b["headers"], SIGNATURE_SETTINGS_HEADER,
                                                         shared_settings.replace(",algorithm=", " , algorithm = "))),
                lambda b: variant("settings naming HMAC_SHA1",
                                  headers=replace_header(b["headers"], SIGNATURE_SETTINGS_HEADER,
                                                         shared_settings.replace("HMAC_SHA256", "HMAC_SHA1"))),
                lambda b: variant("settings naming an unknown algorithm HMAC_SHA512",
                                  headers=replace_header(b["headers"], SIGNATURE_SETTINGS_HEADER,
                                                         shared_settings.replace("HMAC_SHA256", "HMAC_SHA512"))),
            ],
            produced="twilio RequestValidator.compute_signature(algorithm=HMAC_SHA256)",
            algorithm="HMAC_SHA256",
        ),
    ]
    # herald reads X-Twilio-Webhooks-Signature-Settings, so the SharedKey vector is replayed.
    return replayed + not_replayed
