#!/usr/bin/env python3
"""Writes signed TikTok webhook requests for benches/gateway.sh, one per line:
"<Tiktok-Signature>\t<body>". Bodies are ~1 KiB `im_receive_msg` text events (the shape of the
tiktok crate's sample), each with its own message id (the signing time and a counter), signed with the demo
secret at the current time (the demo channel's tolerance is 300 s).

usage: gateway_requests.py COUNT OUT [SECRET]
"""
import hashlib
import hmac
import json
import sys
import time

LINE = ("Hi! I ordered the blue jacket (size M) last Tuesday, order #48213, and the tracking page "
        "still says \"processing\". Could you check what is going on? Merci beaucoup, très gentil 🙏\n")


def body(i, now, text):
    content = {
        "conversation_id": "tt-conv-1",
        "message_id": f"tt-msg-{now}-{i:08d}",
        "timestamp": now * 1000,
        "from": "Alice",
        "from_user": {"id": "user-1"},
        "to": "Biz",
        "to_user": {"id": "biz-123"},
        "type": "text",
        "text": {"body": text},
    }
    outer = {
        "client_key": "demo-app-id",
        "event": "im_receive_msg",
        "create_time": now,
        "user_openid": "biz-123",
        "content": json.dumps(content, separators=(",", ":"), ensure_ascii=False),
    }
    return json.dumps(outer, separators=(",", ":"), ensure_ascii=False).encode()


def main():
    count, out = int(sys.argv[1]), sys.argv[2]
    secret = (sys.argv[3] if len(sys.argv) > 3 else "test-secret-not-real").encode()
    now = int(time.time())
    # Pad the text (one character at a time) while the body stays within 1 KiB.
    text, pool = "", LINE * 16
    base = len(body(0, now, ""))
    while len(text) < len(pool) and len(body(0, now, pool[: len(text) + 1])) <= 1024:
        text = pool[: len(text) + 1]
    t = str(now).encode()
    with open(out, "wb") as f:
        for i in range(count):
            b = body(i, now, text)
            sig = hmac.new(secret, t + b"." + b, hashlib.sha256).hexdigest()
            f.write(b"t=" + t + b",s=" + sig.encode() + b"\t" + b + b"\n")
    print(f"{count} request(s), {len(body(0, now, text))} byte bodies (empty text: {base}), signed at {now}")


if __name__ == "__main__":
    main()
