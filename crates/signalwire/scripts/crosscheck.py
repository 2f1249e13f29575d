#!/usr/bin/env python3
"""Cross-check the signalwire fixtures against an official SignalWire Python SDK.

Every inbound fixture under tests/fixtures/signalwire/ says whether the crate accepts its
request. This script asks an official validator the same question and reports where they
disagree. It needs network access only to install the SDK; the Rust tests stay offline.

Usage (from the workspace root):

    python3 -m venv /tmp/sw-venv
    /tmp/sw-venv/bin/pip install signalwire==2.1.1        # RequestValidator (twilio 6.54 inside)
    /tmp/sw-venv/bin/python crates/signalwire/scripts/crosscheck.py

    # or the newer SDK (its own venv: both install the `signalwire` module)
    python3 -m venv /tmp/sw-venv3
    /tmp/sw-venv3/bin/pip install signalwire-sdk
    /tmp/sw-venv3/bin/python crates/signalwire/scripts/crosscheck.py

Exit status: 0 when every fixture agrees (or differs only where a documented choice of the
crate differs from that SDK), 1 otherwise, 2 when no SDK can be imported.
"""

import glob
import json
import os
import sys
from urllib.parse import parse_qsl, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "..", "tests", "fixtures", "signalwire"))

# Where the crate deliberately differs from an SDK, and why (signalwire.md section 4.5).
KNOWN = {
    "twilio": {
        "reject_non_default_port": "twilio 6.54 removes any port before signing; the crate only "
        "adds or removes the scheme's default port (as signalwire-sdk 3.x does)",
    },
    "sdk3": {},
}


def load_validator():
    """Returns (name, verdict function) for the SDK that is installed."""
    try:
        from signalwire.core.security.webhook_validator import validate_webhook_signature
        from signalwire.core.security.webhook_validator import validate_request

        def verdict(key, method, url, body, sig):
            if method == "GET":
                return validate_request(key, sig, url, [])
            return validate_webhook_signature(key, sig, url, body)

        return "sdk3", "signalwire-sdk (3.x) validate_webhook_signature", verdict
    except ImportError:
        pass
    try:
        from signalwire.request_validator import RequestValidator
        from twilio.request_validator import RequestValidator as TwilioRequestValidator

        def verdict(key, method, url, body, sig):
            if "bodySHA256=" in url:
                # JSON body: signature over the URL, body hash checked (twilio's string path).
                return TwilioRequestValidator(key).validate(url, body, sig)
            if len(sig) == 40 and all(c in "0123456789abcdefABCDEF" for c in sig):
                # Hex over URL + raw body (RELAY/SWML scheme): SignalWire's string path.
                return RequestValidator(key).validate(url, body, sig)
            if method == "GET":
                return RequestValidator(key).validate(url, {}, sig)
            params = dict(parse_qsl(body, keep_blank_values=True))
            return RequestValidator(key).validate(url, params, sig)

        return "twilio", "signalwire 2.x RequestValidator (twilio 6.54)", verdict
    except ImportError:
        return None, None, None


def public_url(url, base):
    if not base:
        return url
    parts = urlsplit(url)
    rest = parts.path + (("?" + parts.query) if parts.query else "")
    return base.rstrip("/") + rest


def main():
    kind, name, verdict = load_validator()
    if verdict is None:
        print("no SignalWire SDK importable: pip install signalwire==2.1.1 (or signalwire-sdk)")
        return 2
    print(f"validator: {name}")
    agree = differ = known = skipped = 0
    for path in sorted(glob.glob(os.path.join(FIXTURES, "*.json"))):
        with open(path, encoding="utf-8") as f:
            fx = json.load(f)
        inbound = fx.get("inbound")
        if not inbound or "request" not in inbound:
            continue
        fname = os.path.basename(path)[:-5]
        req = inbound["request"]
        exp = inbound.get("expect", {})
        error = exp.get("error")
        if error in ("missing_signature", "malformed_signature"):
            # A header question (absent, doubled, not base64): no signature to compare.
            skipped += 1
            continue
        # Verified, or refused for a reason other than the signature: the signature is valid.
        expected = bool(exp.get("verified")) or error in ("malformed_payload", "payload_too_large")
        headers = {k.lower(): v for k, v in req.get("headers", {}).items()}
        sig = headers.get("x-signalwire-signature") or headers.get("x-twilio-signature")
        keys = fx["config"]["signing_key"]
        keys = keys if isinstance(keys, list) else [keys]
        url = public_url(req["url"], fx["config"].get("public_base_url"))
        body = req.get("body", "")
        got = any(verdict(k, req.get("method", "POST"), url, body, sig) for k in keys)
        if got == expected:
            agree += 1
            print(f"ok    {fname}")
        elif fname in KNOWN[kind]:
            known += 1
            print(f"known {fname}: sdk={got} crate={expected}: {KNOWN[kind][fname]}")
        else:
            differ += 1
            print(f"DIFF  {fname}: sdk={got} crate={expected}")
    print(f"{agree} agree, {differ} differ, {known} known differences, {skipped} skipped")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
