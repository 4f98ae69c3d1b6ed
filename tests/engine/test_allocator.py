"""`toolkit.core.allocator`: a training process keeps freed memory for the next step."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

SCRIPT = r"""
import resource, sys, torch
from toolkit.core.allocator import keep_freed_memory

def faults_of_steps(steps=8):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):  # what every training step does: the same big tensors, made and freed
        x = torch.ones(48 * 2**20 // 4)  # e.g. one activation of 32 images of 32×128×128 floats is 64 MiB
        del x
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults_of_steps(20)  # warm up: the heap settles into its layout over the first steps
default = faults_of_steps()
applied = keep_freed_memory()
faults_of_steps(20)
print(default, applied, faults_of_steps())
"""


def _run(env_extra: dict[str, str]) -> tuple[int, bool, int]:
    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True).stdout
    default, applied, kept = out.split()
    return int(default), applied == "True", int(kept)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    default, applied, kept = _run({"TK_MALLOC": ""})
    assert applied
    # 8 steps of a 48 MiB tensor: glibc maps and unmaps a block that big each time (above its
    # 32 MiB ceiling for heap blocks), 12,288 page faults a step; kept, it comes back without them.
    assert default >= 8 * 10000, default
    assert kept < 0.1 * default, (default, kept)


@pytest.mark.skipif(platform.system() != "Linux", reason="glibc's mallopt")
def test_tk_malloc_system_leaves_the_allocator_alone():
    default, applied, kept = _run({"TK_MALLOC": "system"})
    assert not applied
    assert kept >= 0.5 * default
