#!/usr/bin/env python3
"""Runs a test peer so that it never outlives the test process.

usage: guard.py COMMAND [ARG...]

The command runs as a child with PR_SET_PDEATHSIG=SIGKILL (it dies if this guard dies, even by
SIGKILL); the guard polls its own parent and kills the command when the test process is gone
(shared peers of a test suite are never stopped explicitly). Output is inherited.
"""
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1


def set_death_signal():
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def main():
    parent = os.getppid()
    child = subprocess.Popen(sys.argv[1:], preexec_fn=set_death_signal)
    while True:
        code = child.poll()
        if code is not None:
            return code
        if os.getppid() != parent:
            child.kill()
            child.wait()
            return 1
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
