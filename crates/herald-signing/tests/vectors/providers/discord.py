"""discord: catalogue_a vectors.

Signed by PyNaCl 1.6.2 SigningKey.sign (Ed25519) over timestamp + body. Judged by both official
libraries: discord-interactions 0.4.0 (PyPI) verify_key and discord-interactions 4.4.0 (npm)
verifyKey, with verifyKeyMiddleware (fed a raw body) required to agree with verifyKey; the
middleware's reply to the PING is the vector's handshake. The libraries check no time, so there
are no time cases.
"""

import json

from discord_interactions import verify_key as discord_verify_key
from nacl.signing import SigningKey

from support import derived

from .common_a import (header, judged_cases, lower_names, node, pairs, replace_header, resolve, returns, variant,
                       vector, with_second_opinion, without_header)

PY_PACKAGES = {"discord-interactions": "0.4.0", "PyNaCl": "1.6.2"}
NODE_PACKAGES = {"discord-interactions": "4.4.0"}
NODE_SCRIPT = r"""
import { verifyKey, verifyKeyMiddleware } from 'discord-interactions';

const run = {
  async discord(c) {
    const signature = header(c.headers, 'x-signature-ed25519');
    const timestamp = header(c.headers, 'x-signature-timestamp');
    const byVerifyKey = signature !== undefined && timestamp !== undefined
      && (await verifyKey(c.body, signature, timestamp, c.secret)) === true;
    // The Express middleware, fed a raw body: its verdict and, for a PING, its reply.
    const reply = { status: 200, contentType: null, body: null, next: false };
    const req = { body: Buffer.from(c.body, 'utf-8'), header: (name) => header(c.headers, name.toLowerCase()) };
    const res = {
      set statusCode(v) { reply.status = v; }, get statusCode() { return reply.status; },
      setHeader(n, v) { if (n.toLowerCase() === 'content-type') reply.contentType = v; },
      end(b) { reply.body = b === undefined ? null : String(b); },
    };
    await verifyKeyMiddleware(c.secret)(req, res, () => { reply.next = true; });
    return { verifyKey: byVerifyKey, middleware: reply };
  },
};
"""

DISCORD_SIG, DISCORD_TS = "X-Signature-Ed25519", "X-Signature-Timestamp"


def discord_run(requests):
    by_node = node(NODE_SCRIPT, [{"lib": "discord", "secret": r["secret"], "body": r["body"],
                                  "headers": pairs(r["headers"])} for r in requests])
    out = []
    for r, n in zip(requests, by_node):
        signature, ts = header(r["headers"], DISCORD_SIG), header(r["headers"], DISCORD_TS)
        ok = signature is not None and ts is not None and returns(
            discord_verify_key, r["body"].encode("utf-8"), signature, ts, r["secret"])
        middleware_ok = n["middleware"]["status"] != 401
        assert n["verifyKey"] == middleware_ok, (r, n)
        out.append((*with_second_opinion(ok, "discord-interactions (PyPI) verify_key", n["verifyKey"],
                                         "discord-interactions (npm) verifyKey and verifyKeyMiddleware"), n))
    return out


def discord_vector(name, signing, wrong, ts, body, variants):
    public = signing.verify_key.encode().hex()
    signature = signing.sign(f"{ts}{body}".encode("utf-8")).signature.hex()
    headers = [("Content-Type", "application/json"), (DISCORD_SIG, signature), (DISCORD_TS, str(ts)),
               ("User-Agent", "Discord-Interactions/1.0 (+https://discord.com)")]
    base = {"name": name, "secret": public, "wrong": wrong, "url": None, "body": body, "headers": headers, "now": None}
    own = discord_run([base])[0][3]["middleware"]
    handshake = None
    if json.loads(body)["type"] == 1:
        assert own["status"] == 200 and not own["next"], own
        handshake = {"content_type": own["contentType"], "body": own["body"]}
        assert handshake == {"content_type": "application/json", "body": '{"type":1}'}, handshake
    else:
        assert own["next"], own
    cases = judged_cases(base, resolve(variants, base), lambda rs: [r[:3] for r in discord_run(rs)])
    produced = ("PyNaCl SigningKey.sign over timestamp + body, checked by discord-interactions (PyPI) verify_key and "
                "discord-interactions (npm) verifyKey and verifyKeyMiddleware"
                + (", whose reply to the PING is the handshake" if handshake else ""))
    return vector(name, "discord", public, wrong, ts, None, body, headers, DISCORD_SIG.lower(), produced, cases,
                  handshake=handshake)


def vectors():
    app_id = "1174000000000000001"
    ping = {"app_permissions": "562949953601536", "application_id": app_id, "authorizing_integration_owners": {},
            "entitlements": [], "id": "1174012345678901234",
            "token": "aW50ZXJhY3Rpb246MTE3NDAxMjM0NTY3ODkwMTIzNDpoZXJhbGRwaW5ndG9rZW4", "type": 1,
            "user": {"avatar": None, "discriminator": "0", "global_name": "Discord", "id": "643945264868098049",
                     "public_flags": 1, "system": True, "username": "discord"},
            "version": 1}
    command = {
        "app_permissions": "2248473465835073", "application_id": app_id,
        "authorizing_integration_owners": {"0": "1174000000000000100"},
        "channel": {"flags": 0, "guild_id": "1174000000000000100", "id": "1174000000000000200", "name": "général",
                    "type": 0},
        "channel_id": "1174000000000000200", "context": 0,
        "data": {"id": "1174000000000000300", "name": "greet", "type": 1,
                 "options": [{"name": "message", "type": 3, "value": "Grüße, café ☕ 日本"}]},
        "entitlements": [], "guild_id": "1174000000000000100", "guild_locale": "de", "id": "1174012345678905678",
        "locale": "fr",
        "member": {"avatar": None, "deaf": False, "joined_at": "2023-11-14T22:13:20.000000+00:00", "mute": False,
                   "nick": "Zoë", "permissions": "2248473465835073", "roles": [],
                   "user": {"avatar": None, "discriminator": "0", "global_name": "Zoë", "id": "1174000000000000400",
                            "public_flags": 0, "username": "zoe"}},
        "token": "aW50ZXJhY3Rpb246MTE3NDAxMjM0NTY3ODkwNTY3ODpoZXJhbGRjb21tYW5k", "type": 2, "version": 1,
    }
    signing = SigningKey(derived("discord", 32))
    wrong = SigningKey(derived("discord wrong", 32)).verify_key.encode().hex()
    ts1, ts2 = 1700000200, 1700000260

    def sig(b):
        return header(b["headers"], DISCORD_SIG)

    common = [
        lambda b: variant("header names in lower case", headers=lower_names(b["headers"])),
        lambda b: variant("signature in upper-case hex", headers=replace_header(b["headers"], DISCORD_SIG, sig(b).upper())),
        lambda b: variant("the timestamp header changed by one second",
                          headers=replace_header(b["headers"], DISCORD_TS, str(int(header(b["headers"], DISCORD_TS)) + 1))),
        lambda b: variant("the public key in upper-case hex", secret=b["secret"].upper()),
        lambda b: variant("signature truncated by one byte", headers=replace_header(b["headers"], DISCORD_SIG, sig(b)[:-2])),
        lambda b: variant("no timestamp header", headers=without_header(b["headers"], DISCORD_TS)),
    ]
    return [
        discord_vector("discord PING", signing, wrong, ts1, json.dumps(ping, separators=(",", ":")), common),
        discord_vector("discord APPLICATION_COMMAND, non-ASCII", signing, wrong, ts2,
                       json.dumps(command, ensure_ascii=False, separators=(",", ":")), common),
    ]
