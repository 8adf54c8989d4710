#!/usr/bin/env python3
"""With ENABLE_QR_CODE=true the CIU reply carries a QR image that a standard
reader (zbarimg) decodes to the CIU, served at an unguessable, expiring URL."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from stack import Person, check, run, wait_for  # noqa: E402

TTL = 4


def scenario(stack):
    p = Person(stack, "+243810000888")
    p.say("Bonjour", "Question 1 sur 5")
    for text, want in [("Mbengue", "Question 2"), ("Ibrahima", "Question 3"),
                       ("1997", "Question 4"), ("DA", "Question 5"), ("1", "MBE · IBR")]:
        p.say(text, want)
    got = p.say("1", "MBEIBR7DA1")
    media = [m["media_url"] for m in got if m["media_url"]]
    check(len(media) == 1, "expected one QR image with the CIU reply, got %r" % got)
    url = media[0]
    m = re.fullmatch(r"/media/qr/([0-9a-f]{64})\.png", url)
    check(m is not None, "media URL is not an unguessable token: %r" % url)
    check("MBEIBR7DA1" not in url.upper(), "media URL reveals the CIU")
    status, png = stack.request("GET", url)
    check(status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n", "QR not served: %s" % status)
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        f.write(png)
        f.flush()
        out = subprocess.run(["zbarimg", "--raw", "-q", f.name], capture_output=True, text=True)
    check(out.stdout.strip() == "MBEIBR7DA1", "QR decodes to %r" % out.stdout)
    # The link expires: after the TTL it is gone, and so is the file.
    wait_for(lambda: stack.request("GET", url)[0] == 404, timeout=TTL + 10,
             what="the QR link to expire")
    wait_for(lambda: not os.listdir(os.path.join(stack.data, "media")), timeout=10,
             what="the expired QR file to be deleted")


if __name__ == "__main__":
    sys.exit(run(scenario, "qr", "sqlite",
                 env={"ENABLE_QR_CODE": "true", "CIU_MEDIA_TTL_SECONDS": str(TTL)}))
