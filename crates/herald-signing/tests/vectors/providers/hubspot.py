"""hubspot (v3): catalogue_a vectors.

Signed by hubspot-api-client 12.0.0 (PyPI) Signature.get_signature (v3), which must equal npm
@hubspot/api-client 14.0.1 Signature.getSignature, over method + requestUri + body + timestamp;
requestUri is the URL with the 12 escapes of HubSpot's docs decoded, since neither client decodes
anything. Judged by both: @hubspot/api-client Signature.isValid (Date frozen), whose verdict is
the case's, and hubspot-api-client Signature.is_valid (datetime patched); where they disagree (at
exactly 300 s) the variant goes to `disputed_cases`.
"""

import json
import re
import sys
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from unittest import mock

from hubspot.utils.signature import Signature as HubSpotSignature

from support import derived

from .common_a import (header, judged_cases, lower_names, ms, node, pairs, replace_header, resolve, returns,
                       time_variants, variant, vector, with_second_opinion, without_header)

PY_PACKAGES = {"hubspot-api-client": "12.0.0"}
NODE_PACKAGES = {"@hubspot/api-client": "14.0.1"}
NODE_SCRIPT = r"""
import { Signature } from '@hubspot/api-client';

const run = {
  async hubspot(c) {
    return Signature.isValid({
      signatureVersion: 'v3', signature: header(c.headers, 'x-hubspot-signature-v3'), clientSecret: c.secret,
      requestBody: c.body, url: c.uri, method: c.method, timestamp: header(c.headers, 'x-hubspot-request-timestamp'),
    }) === true;
  },
  async hubspot_sign(c) {
    return Signature.getSignature(c.method, 'v3',
      { clientSecret: c.secret, requestBody: c.body, url: c.uri, timestamp: c.timestamp });
  },
};
"""

HUBSPOT_TOLERANCE_S = 300  # @hubspot/api-client MAX_ALLOWED_TIMESTAMP = 300000 ms; hubspot-api-client 300 s

HUBSPOT_SIG, HUBSPOT_TS = "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp"
# HubSpot's docs ("Validating requests", v3): in the request URI, decode these and only these.
HUBSPOT_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(",
                   "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


def hubspot_uri(url):
    """The requestUri that HubSpot signs: the URL with the 12 listed escapes decoded, in one pass."""
    return re.sub("|".join(HUBSPOT_DECODED), lambda m: HUBSPOT_DECODED[m.group(0)], url)


@contextmanager
def hubspot_clock(now):
    module = sys.modules[HubSpotSignature.__module__]

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(now, tz=tz or timezone.utc)

    with mock.patch.object(module, "datetime", Frozen):
        yield


def hubspot_judge(requests):
    by_node = node(NODE_SCRIPT, [{"lib": "hubspot", "now_ms": ms(r["now"]), "secret": r["secret"],
                                  "body": r["body"], "uri": hubspot_uri(r["url"]), "method": r["method"],
                                  "headers": pairs(r["headers"])} for r in requests])
    out = []
    for r, node_ok in zip(requests, by_node):
        with hubspot_clock(r["now"]):
            py_ok = returns(HubSpotSignature.is_valid, signature=header(r["headers"], HUBSPOT_SIG),
                            client_secret=r["secret"], request_body=r["body"], http_uri=hubspot_uri(r["url"]),
                            http_method=r["method"], signature_version="v3", timestamp=header(r["headers"], HUBSPOT_TS))
        out.append(with_second_opinion(
            node_ok, "@hubspot/api-client Signature.isValid (v3, url: the case's url with HubSpot's 12 listed "
            "escapes decoded)", py_ok, "hubspot-api-client Signature.is_valid"))
    return out


def hubspot_vector(name, secret, wrong, ts, url, body, variants):
    ts_ms = str(ts * 1000)
    uri = hubspot_uri(url)
    v3 = HubSpotSignature.get_signature(secret, body, "v3", uri, "POST", ts_ms)
    assert node(NODE_SCRIPT, [{"lib": "hubspot_sign", "secret": secret, "body": body, "uri": uri, "method": "POST",
                               "timestamp": ts_ms}]) == [v3]
    headers = [("Content-Type", "application/json"),
               ("X-HubSpot-Signature", HubSpotSignature.get_signature(secret, body, "v1")),
               ("X-HubSpot-Signature-Version", "v1"), (HUBSPOT_SIG, v3), (HUBSPOT_TS, ts_ms),
               ("User-Agent", "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nonprod)")]
    base = {"name": name, "secret": secret, "wrong": wrong, "url": url, "body": body, "headers": headers, "now": ts,
            "method": "POST"}
    cases = judged_cases(base, resolve(variants, base), hubspot_judge)
    return vector(name, "hubspot", secret, wrong, ts, url, body, headers, HUBSPOT_SIG.lower(),
                  "hubspot-api-client Signature.get_signature (v3; equal to @hubspot/api-client Signature.getSignature) "
                  "over method + requestUri + body + timestamp, requestUri being the url with the 12 escapes of "
                  "HubSpot's docs decoded; checked by @hubspot/api-client Signature.isValid and "
                  "hubspot-api-client Signature.is_valid given that requestUri", cases)


def vectors():
    secret = str(uuid.UUID(bytes=derived("hubspot", 16)))
    wrong = str(uuid.UUID(bytes=derived("hubspot wrong", 16)))
    ts1, ts2 = 1700000500, 1700000560
    url1 = "https://hooks.example.com/in/src_hubspot"
    body1 = json.dumps([
        {"eventId": 1839402051, "subscriptionId": 2468013, "portalId": 62515, "appId": 54321,
         "occurredAt": 1700000499120, "subscriptionType": "contact.creation", "attemptNumber": 0,
         "objectId": 123, "changeFlag": "NEW", "changeSource": "CRM", "sourceId": "userId:1234567"},
        {"eventId": 1839402052, "subscriptionId": 2468014, "portalId": 62515, "appId": 54321,
         "occurredAt": 1700000499388, "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
         "objectId": 123, "propertyName": "firstname", "propertyValue": "Zoë", "changeSource": "CRM"},
    ], ensure_ascii=False, separators=(",", ":"))
    url2 = ("https://hooks.example.com/in/src_hubspot?portalId=62515&return=https%3A%2F%2Fapp.example.com%2Fdone%3Fok%3D1"
            "&email=zo%C3%AB%40example.com&note=caf%C3%A9%20%28test%29%21%2A%27%24%2C%3B")
    body2 = json.dumps([{"eventId": 1839402060, "subscriptionId": 2468015, "portalId": 62515, "appId": 54321,
                         "occurredAt": 1700000559001, "subscriptionType": "deal.propertyChange", "attemptNumber": 1,
                         "objectId": 987, "propertyName": "dealname", "propertyValue": "Crème brûlée GmbH",
                         "changeSource": "API"}], ensure_ascii=False, separators=(",", ":"))

    def sig_only_v1(b):
        return without_header(without_header(b["headers"], HUBSPOT_SIG), HUBSPOT_TS)

    return [
        hubspot_vector("hubspot contact events", secret, wrong, ts1, url1, body1, [
            *time_variants(ts1, HUBSPOT_TOLERANCE_S),
            lambda b: variant("header names in lower case", headers=lower_names(b["headers"])),
            lambda b: variant("the timestamp header changed by one millisecond",
                              headers=replace_header(b["headers"], HUBSPOT_TS, str(ts1 * 1000 + 1))),
            lambda b: variant("only the legacy v1 signature (no v3 headers)", headers=sig_only_v1(b)),
            lambda b: variant("url with http instead of https", url=url1.replace("https://", "http://")),
            lambda b: variant("url with a trailing slash", url=url1 + "/"),
        ]),
        hubspot_vector("hubspot URL with a query string and escapes, non-ASCII", secret, wrong, ts2, url2, body2, [
            lambda b: variant("the same url with the 12 listed escapes already decoded", url=hubspot_uri(url2)),
            lambda b: variant("%3D decoded to = (not in HubSpot's list)", url=url2.replace("%3D", "=")),
            lambda b: variant("%C3%AB decoded to ë (not in HubSpot's list)", url=url2.replace("%C3%AB", "ë")),
            lambda b: variant("%20 written as + (not the same byte)", url=url2.replace("%20", "+")),
            lambda b: variant("the query params reordered",
                              url=url2.replace("portalId=62515&", "").replace("%3B", "%3B&portalId=62515")),
        ]),
    ]
