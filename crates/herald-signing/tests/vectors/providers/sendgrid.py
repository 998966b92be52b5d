"""sendgrid: catalogue_a vectors.

SendGrid's SDK has no signer, so requests are signed with cryptography 48.0.0: ECDSA P-256 with
SHA-256 (RFC 6979 deterministic), DER, base64, over timestamp + body. They are judged by sendgrid
6.12.5 (PyPI) EventWebhook.verify_signature, the key being EventWebhook(public key).public_key.
The example of SendGrid's SDK tests (key, payload, timestamp, signature, failing key) is a vector.
The library checks no time, so there are no time cases. SendGrid's Node SDK is not consulted.
"""

import base64
import json

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from sendgrid.helpers.eventwebhook import EventWebhook

from support import derived

from .common_a import header, judged_cases, lower_names, replace_header, resolve, returns, variant, vector, without_header

PY_PACKAGES = {"sendgrid": "6.12.5", "cryptography": "48.0.0"}
NODE_PACKAGES = {}

SENDGRID_SIG = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TS = "X-Twilio-Email-Event-Webhook-Timestamp"
SENDGRID_JUDGE = "sendgrid EventWebhook.verify_signature (key: EventWebhook(public key).public_key)"
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def sendgrid_judge(requests):
    out = []
    for r in requests:
        signature, ts = header(r["headers"], SENDGRID_SIG), header(r["headers"], SENDGRID_TS)
        ok = signature is not None and ts is not None and returns(
            lambda: EventWebhook(r["secret"]).verify_signature(r["body"], signature, ts))
        out.append((ok, SENDGRID_JUDGE, None))
    return out


def sendgrid_key(label):
    private = ec.derive_private_key(int.from_bytes(derived(label, 32), "big") % (P256_N - 1) + 1, ec.SECP256R1())
    spki = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(spki).decode()


def sendgrid_vector(name, public, wrong, ts, body, signature, variants, produced):
    headers = [("Content-Type", "application/json"), (SENDGRID_SIG, signature), (SENDGRID_TS, str(ts)),
               ("User-Agent", "SendGrid Event API")]
    base = {"name": name, "secret": public, "wrong": wrong, "url": None, "body": body, "headers": headers, "now": None}
    cases = judged_cases(base, resolve(variants, base), sendgrid_judge)
    return vector(name, "sendgrid", public, wrong, ts, None, body, headers, SENDGRID_SIG.lower(), produced, cases)


def vectors():
    # The test vector in SendGrid's SDKs (sendgrid-python test/unit/test_eventwebhook.py, and the Node,
    # Ruby, PHP, Java, Go and C# ones): key, payload, signature and timestamp, and a failing key.
    pub_key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
    pub_wrong = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA=="
    pub_sig = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="
    pub_body = json.dumps({"event": "test_event", "category": "example_payload", "message_id": "message_id"},
                          sort_keys=True, separators=(",", ":"))

    private, public = sendgrid_key("sendgrid")
    _, wrong = sendgrid_key("sendgrid wrong")
    ts = 1700000100
    events = [
        {"email": "jane@example.com", "timestamp": 1700000050, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
         "event": "delivered", "category": ["cat facts"], "sg_event_id": "ZGVsaXZlcmVkLTAtMTIzNDU2Nzg5",
         "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0", "response": "250 OK"},
        {"email": "zoë@example.com", "timestamp": 1700000060, "event": "bounce", "type": "bounce",
         "reason": "550 5.1.1 Empfänger unbekannt — “no such user”", "status": "5.1.1",
         "sg_event_id": "Ym91bmNlLTEtMTIzNDU2Nzg5", "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.1"},
    ]
    body = json.dumps(events, ensure_ascii=False, separators=(",", ":")) + "\r\n"

    def sign(payload_ts, payload):
        return private.sign(f"{payload_ts}{payload}".encode(), ec.ECDSA(hashes.SHA256(), deterministic_signing=True))

    der = sign(ts, body)
    signature = base64.b64encode(der).decode()
    r, s = decode_dss_signature(der)
    high_s = base64.b64encode(encode_dss_signature(r, P256_N - s)).decode()
    raw_rs = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    # DER with a needless leading zero on r: BER would take it, DER does not.
    r_bytes = r.to_bytes(32, "big").lstrip(b"\0")
    r_bytes = (b"\0" if r_bytes[0] & 0x80 else b"") + r_bytes
    s_bytes = s.to_bytes(32, "big").lstrip(b"\0")
    s_bytes = (b"\0" if s_bytes[0] & 0x80 else b"") + s_bytes
    r_padded = b"\0" + r_bytes
    seq = b"\x02" + bytes([len(r_padded)]) + r_padded + b"\x02" + bytes([len(s_bytes)]) + s_bytes
    non_der = base64.b64encode(b"\x30" + bytes([len(seq)]) + seq).decode()

    def with_sig(b, value):
        return replace_header(b["headers"], SENDGRID_SIG, value)

    return [
        sendgrid_vector(
            "sendgrid published example (SendGrid SDK tests)", pub_key, pub_wrong, 1588788367, pub_body, pub_sig,
            [
                lambda b: variant("the SDK tests' failing signature", headers=with_sig(
                    b, "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0=")),
                lambda b: variant("the SDK tests' failing timestamp 1388788367",
                                  headers=replace_header(b["headers"], SENDGRID_TS, "1388788367")),
            ],
            "the public key, payload, timestamp and signature of SendGrid's SDK tests, checked by "
            "sendgrid EventWebhook.verify_signature",
        ),
        sendgrid_vector(
            "sendgrid event batch, non-ASCII, CRLF after the JSON", public, wrong, ts, body, signature,
            [
                lambda b: variant("header names in lower case", headers=lower_names(b["headers"])),
                lambda b: variant("the timestamp header changed by one second",
                                  headers=replace_header(b["headers"], SENDGRID_TS, str(ts + 1))),
                lambda b: variant("the body without its trailing CRLF", body=body[:-2]),
                lambda b: variant("the same signature with s replaced by n - s (high S)", headers=with_sig(b, high_s)),
                lambda b: variant("the signature as raw r||s (64 bytes) instead of DER", headers=with_sig(b, raw_rs)),
                lambda b: variant("the signature in non-canonical DER (r with a needless leading zero)",
                                  headers=with_sig(b, non_der)),
                lambda b: variant("no timestamp header", headers=without_header(b["headers"], SENDGRID_TS)),
            ],
            "cryptography ECDSA P-256 SHA-256 (RFC 6979 deterministic) over timestamp + body, DER, base64; "
            "checked by sendgrid EventWebhook.verify_signature",
        ),
    ]
