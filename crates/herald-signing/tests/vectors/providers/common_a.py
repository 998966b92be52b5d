"""Helpers shared by catalogue_a's provider modules: the shape of a vector and of a case, judging a
vector's variants, header edits, time variants, and the Node runner.

The runner's script is NODE_PRELUDE (a frozen clock, a header look-up), then the provider's own
script (its imports and a `run` object of named checks), then NODE_LOOP (read the checks from
stdin, run each at its `now_ms`, write the results). Each provider module names the npm packages
its script imports (NODE_PACKAGES); catalogue_a.py installs them all with install_node_packages
into $HERALD_VECTORS_NODE_A_PREFIX (default ~/.cache/herald-vectors/node-a) when absent; Node 20+.
"""

import contextlib
import io
import json
import os
import subprocess
from pathlib import Path

DAY_S = 86_400


# --------------------------------------------------------------------------- shapes


def pairs(headers):
    return [list(pair) for pair in headers]


def header(headers, name):
    """The first value of a header, its name matched without regard to case (as HTTP has it)."""
    for n, v in headers:
        if n.lower() == name.lower():
            return v
    return None


def replace_header(headers, name, value):
    return [(n, value if n.lower() == name.lower() else v) for n, v in headers]


def without_header(headers, name):
    return [(n, v) for n, v in headers if n.lower() != name.lower()]


def lower_names(headers):
    return [(n.lower(), v) for n, v in headers]


def vector(name, scheme, secret, wrong, timestamp, url, body, headers, signature_header, produced_by, judged,
           *, handshake=None, method="POST"):
    cases, disputed = judged
    out = {
        "name": name,
        "scheme": scheme,
        "secret": secret,
        "wrong_secret": wrong,
        "timestamp": timestamp,
        "method": method,
        "url": url,
        "body": body,
        "headers": pairs(headers),
        "signature_header": signature_header,
        "produced_by": produced_by,
        "handshake": handshake,
        "cases": cases,
    }
    if disputed:
        out["disputed_cases"] = disputed
    return out


def resolve(variants, base):
    """Variants are given as dicts, or as functions of the vector's own request returning one."""
    return [v(base) if callable(v) else v for v in variants]


def variant(name, **overrides):
    """A case's request: the vector's own except what is given (headers, secret, now, url, body)."""
    return {"name": name, **overrides}


def judged_cases(base, variants, judge):
    """Asks `judge` (a list of requests -> a list of (accepted, judged_by, disputed)) about the
    vector's own request, the same with the wrong secret and with a tampered body, then about each
    variant. The own request must pass and the two others must not, all libraries agreeing.
    Returns (cases, disputed cases): a variant on which two official SDKs disagree (`disputed`, a
    {library: verdict} map, is then not None) has no single verdict for herald to share, so it is
    written apart, with both verdicts, where tests/vectors.rs does not replay it."""
    requests = [base, dict(base, secret=base["wrong"]), dict(base, body=base["body"] + " ")]
    for v in variants:
        requests.append({**base, **{k: v[k] for k in v if k != "name"}})
    verdicts = judge(requests)
    assert len(verdicts) == len(requests)
    (ok, by, d0), (wrong_ok, _, d1), (tampered_ok, _, d2) = verdicts[:3]
    assert ok and d0 is None, (base["name"], by)
    assert not wrong_ok and not tampered_ok and d1 is None and d2 is None, base["name"]
    cases = [
        case("wrong secret", base["headers"], wrong_ok, verdicts[1][1], secret=base["wrong"]),
        case("tampered body (a space appended)", base["headers"], tampered_ok, verdicts[2][1],
             body=base["body"] + " "),
    ]
    disputed = []
    for v, (accepted, by, split) in zip(variants, verdicts[3:]):
        c = case(v["name"], v.get("headers", base["headers"]), accepted, by, secret=v.get("secret"),
                 now=v.get("now"), url=v.get("url"), body=v.get("body"))
        if split is None:
            cases.append(c)
        else:
            del c["accepted"], c["judged_by"]
            disputed.append({**c, "verdicts": split})
    return cases, disputed


def case(name, headers, accepted, judged_by, *, secret=None, now=None, url=None, body=None):
    return {
        "name": name,
        "headers": pairs(headers),
        "secret": secret,
        "now": now,
        "url": url,
        "body": body,
        "accepted": bool(accepted),
        "judged_by": judged_by,
    }


def edges(tolerance, *, extra=()):
    """Variants at the tolerance's edges and beyond, either way (now relative to the signed time)."""
    offsets = {
        f"now = t + {tolerance} (exactly at the tolerance)": tolerance,
        f"now = t + {tolerance + 1}": tolerance + 1,
        f"now = t - {tolerance} (exactly at the tolerance, from the future)": -tolerance,
        f"now = t - {tolerance + 1} (from the future)": -tolerance - 1,
        "now = t - 1 day (from the future)": -DAY_S,
    }
    for seconds in extra:
        offsets[f"now = t + {seconds}"] = seconds
    return offsets


def time_variants(ts, tolerance, *, extra=()):
    return [variant(name, now=ts + offset) for name, offset in edges(tolerance, extra=extra).items()]


def returns(fn, *args, **kwargs) -> bool:
    """Whether a verifier accepts: it returns without raising, and not False/None."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # discord_interactions prints its errors
            result = fn(*args, **kwargs)
    except Exception:  # any refusal will do
        return False
    return result is not False and result is not None


def with_second_opinion(first, first_name, second, second_name):
    """(accepted, judged_by, disputed) from the verdicts of a provider's two official SDKs."""
    if first == second:
        return first, f"{first_name} (and {second_name})", None
    return first, first_name, {first_name: first, second_name: second}


# --------------------------------------------------------------------------- node

NODE_PRELUDE = r"""
const RealDate = globalThis.Date;
function frozen(ms) {
  return class FrozenDate extends RealDate {
    constructor(...args) { if (args.length === 0) super(ms); else super(...args); }
    static now() { return ms; }
  };
}
async function at(ms, fn) {
  if (ms === null || ms === undefined) return await fn();
  globalThis.Date = frozen(ms);
  try { return await fn(); } finally { globalThis.Date = RealDate; }
}
function header(pairs, name) {
  const hit = pairs.find(([n]) => n.toLowerCase() === name);
  return hit === undefined ? undefined : hit[1];
}
"""

NODE_LOOP = r"""
let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = [];
for (const c of JSON.parse(input)) {
  try {
    out.push(await at(c.now_ms, () => run[c.lib](c)));
  } catch (e) {
    out.push(false);
  }
}
process.stdout.write(JSON.stringify(out));
"""


def node_prefix() -> Path:
    """Where the Node packages are installed."""
    default = Path.home() / ".cache" / "herald-vectors" / "node-a"
    return Path(os.environ.get("HERALD_VECTORS_NODE_A_PREFIX", default))


def install_node_packages(packages):
    """Installs those of `packages` ({name: version}) that node_prefix() lacks at that version."""
    prefix = node_prefix()

    def installed(package):
        manifest = prefix / "node_modules" / package / "package.json"
        return manifest.exists() and json.loads(manifest.read_text())["version"]

    wanted = [f"{p}@{v}" for p, v in packages.items() if installed(p) != v]
    if wanted:
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--silent", *wanted],
                       check=True)


def node(script, checks) -> list:
    """Runs checks ({"lib": …, "now_ms": …, …}) through a provider's Node script (its imports and
    `const run = {lib: async (c) => …}`), one result each; a check that throws gives false."""
    run = subprocess.run(["node", "--input-type=module", "-e", NODE_PRELUDE + script + NODE_LOOP], cwd=node_prefix(),
                         input=json.dumps(checks), capture_output=True, text=True, check=True)
    results = json.loads(run.stdout)
    assert len(results) == len(checks), run
    return results


def ms(now):
    return None if now is None else now * 1000
