"""Tests that need a kernel the host may not have (ESP, GRE, IPIP) run
themselves in a QEMU VM with Debian's kernel (tests/vmrun):

    import vmlib
    vmlib.reexec(__file__, timeout=300)

at the top of the script boots the VM and runs the script there,
relaying its TAP output and exit status; inside the VM it returns.
Python 3 standard library only."""

import os
import subprocess
import sys

VMRUN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vmrun")
# vmrun's status when the VM, not the test, failed or ran out of time.
VM_FAILURES = {124: "the VM ran out of time",
               125: "the VM could not run the test"}


def in_vm():
    return os.environ.get("KN_IN_VM") == "1"


def reexec(path, timeout=600):
    """On the host: run `python3 path` in the VM for at most timeout
    seconds and exit with its status.  Inside the VM: return.  When no
    VM can run here the test is skipped, except under CI=true where
    that is a failure: CI must run it."""
    if in_vm():
        return
    why = subprocess.run([sys.executable, VMRUN, "--check"],
                         capture_output=True, text=True).stdout.strip()
    if why:
        if os.environ.get("CI") == "true":
            print("not ok 1 - a VM can run the test: %s\n1..1" % why)
            sys.exit(1)
        print("1..0 # SKIP no VM: " + why)
        sys.exit(0)
    sys.stdout.flush()
    r = subprocess.run([sys.executable, VMRUN, "--timeout", str(timeout),
                        "--", sys.executable, os.path.abspath(path)] +
                       sys.argv[1:])
    if r.returncode in VM_FAILURES:
        print("Bail out! %s (tests/vmrun status %d)" % (
            VM_FAILURES[r.returncode], r.returncode))
    sys.exit(r.returncode)
