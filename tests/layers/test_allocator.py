"""`keras_cxr.layers._allocator`: with glibc's thresholds set, a freed 16 MiB activation's memory is reused by the
next one instead of being faulted in afresh (counted with the kernel's minor page faults, `getrusage`)."""

import os
import platform
import subprocess
import sys

import pytest

from keras_cxr.layers import _allocator

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="mallopt is glibc's")

# 20 steps of a 16 MiB buffer written, then freed; prints the minor page faults per step.
STEPS = """
import importlib.util, resource, sys
import numpy as np
spec = importlib.util.spec_from_file_location("allocator", sys.argv[1])  # the module alone: no Keras import
_allocator = importlib.util.module_from_spec(spec)
spec.loader.exec_module(_allocator)
print("tuned" if _allocator.tune() else "untouched", file=sys.stderr)
np.ones(4 << 20, np.float32)  # once, so both runs start from a heap that has seen a 16 MiB block
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    buffer = np.ones(4 << 20, np.float32)
    del buffer
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def _faults_per_step(**env):
    clean = {k: v for k, v in os.environ.items() if k not in _allocator.USER_SETTINGS and k != _allocator.ENV}
    result = subprocess.run([sys.executable, "-c", STEPS, _allocator.__file__], env={**clean, **env},
                            capture_output=True, text=True, check=True, timeout=120)
    return float(result.stdout.strip()), result.stderr.strip().splitlines()[-1]


def test_freed_memory_is_reused_instead_of_faulted_in_again():
    untuned, state = _faults_per_step(KERAS_CXR_MALLOC="0")
    assert state == "untouched"
    tuned, state = _faults_per_step()
    assert state == "tuned"
    # 16 MiB is 4,096 pages of 4 KiB: glibc's default mmaps and unmaps it every step (transparent huge pages may
    # make it fewer faults, never none); tuned, the heap keeps it
    assert untuned >= 8 and tuned <= untuned / 4, (untuned, tuned)


def test_the_users_own_settings_and_the_switch_leave_it_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert _allocator.tune() is False
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.setenv(_allocator.ENV, "0")
    assert _allocator.tune() is False
