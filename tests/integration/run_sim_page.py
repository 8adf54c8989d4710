#!/usr/bin/env python3
"""Start a real stack and run the browser test of the chat page against it."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
from stack import build_dir, check, run  # noqa: E402
from test_sim_page import SKIP, browser  # noqa: E402


def scenario(stack):
    # screenshots are kept as test artefacts under the build folder
    art = os.environ.get("CIU_TEST_ARTIFACTS") or os.path.join(build_dir(), "test-artifacts",
                                                               "it_sim_page")
    env = dict(os.environ, CIU_TEST_URL=stack.base, CIU_TEST_ARTIFACTS=art)
    shot = os.path.join(art, "ciu-sim.png")
    if os.path.exists(shot):
        os.unlink(shot)  # a screenshot of an earlier run proves nothing
    r = subprocess.run([sys.executable, os.path.join(HERE, "test_sim_page.py")], env=env,
                       timeout=120)
    check(r.returncode == 0, "browser test failed (exit %d)" % r.returncode)
    check(os.path.exists(shot) and os.path.getsize(shot) > 1000, "no screenshot kept at %s" % shot)


if __name__ == "__main__":
    if not browser():
        sys.exit(SKIP)  # reported as skipped, not passed (SKIP_RETURN_CODE)
    qr = sys.argv[1] if len(sys.argv) > 1 else "false"
    sys.exit(run(scenario, "sim-page", "sqlite", env={"ENABLE_QR_CODE": qr}))
