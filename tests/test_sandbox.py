"""sandbox.py, provisioner.py, watchdog.py: how a kernel is confined and watched, without starting one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import zmq

from grader.provisioner import PidsCgroup, SandboxProvisioner, bwrap_args
from grader.sandbox import GiB, MiB, CappedKernelClient, Limits, format_bytes, prepare_kernel
from grader.watchdog import Trip, Watchdog, folder_usage


def test_format_bytes_names_the_largest_unit():
    assert (format_bytes(4 * GiB), format_bytes(64 * MiB), format_bytes(1536), format_bytes(100)) == (
        "4 GiB", "64 MiB", "1.5 KiB", "100 bytes")


def test_folder_usage_counts_entries_and_blocks(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_bytes(b"x" * 10000)
    used, count = folder_usage(tmp_path, 100)
    assert count == 2 and used >= 10000


def _manager(tmp_path: Path, limits: Limits):
    (tmp_path / "work").mkdir(exist_ok=True)
    return prepare_kernel(tmp_path, limits)


def test_the_manager_launches_through_the_sandbox_provisioner(tmp_path):
    kernel = _manager(tmp_path, Limits(confine=False))
    try:
        assert kernel.km.provisioner is kernel.provisioner
        assert isinstance(kernel.provisioner, SandboxProvisioner)
        # Interrupts go as messages: a signal from outside would only reach bubblewrap.
        assert kernel.km.kernel_spec.interrupt_mode == "message"
        assert (kernel.full, kernel.sandbox.startswith("sandbox: reduced (confinement switched off)")) == (False, True)
    finally:
        kernel.close()


def test_the_kernel_command_is_the_kernel_alone_without_bubblewrap(tmp_path):
    kernel = _manager(tmp_path, Limits(confine=False))
    try:
        command = kernel.provisioner.kernel_command(["--HistoryManager.hist_file=:memory:"])
        assert command == [sys.executable, "-P", "-s", "-m", "ipykernel_launcher", "-f",
                           os.path.realpath(tmp_path / "conn" / "kernel.json"), "--HistoryManager.hist_file=:memory:"]
    finally:
        kernel.close()


def test_with_bubblewrap_the_kernel_command_starts_with_its_arguments(tmp_path):
    kernel = _manager(tmp_path, Limits(confine=False))
    kernel.provisioner.bwrap = "/usr/bin/bwrap"
    try:
        command = kernel.provisioner.kernel_command([])
        prefix = bwrap_args(tmp_path, kernel.provisioner.limits, "/usr/bin/bwrap")
        assert command[:len(prefix)] == prefix
        assert command[len(prefix):len(prefix) + 5] == [sys.executable, "-P", "-s", "-m", "ipykernel_launcher"]
    finally:
        kernel.close()


def test_bubblewrap_binds_only_the_scratch_folder_writable(tmp_path):
    args = bwrap_args(tmp_path, Limits(), "bwrap")
    writable = [args[i + 1] for i, a in enumerate(args) if a == "--bind"]
    assert writable == [str(tmp_path)]
    assert args[-1] == "/" and args[-2] == "--remount-ro"


def test_the_kernel_client_refuses_messages_over_the_limit(tmp_path):
    kernel = _manager(tmp_path, Limits(confine=False, message_bytes=3 * MiB))
    try:
        client = kernel.km.client()
        assert isinstance(client, CappedKernelClient)
        assert client.context.getsockopt(zmq.MAXMSGSIZE) == 3 * MiB
        client.context.term()
    finally:
        kernel.close()


def test_removing_a_cgroup_that_is_gone_returns_at_once(tmp_path):
    PidsCgroup(tmp_path / "gone").remove()
    assert not (tmp_path / "gone").exists()


class _Proc:
    """What the watchdog reads of a process."""

    def __init__(self, rss: int):
        self.rss = rss

    def memory_info(self):
        return self


def _watchdog(tmp_path: Path, procs: list, killed: list, **limits) -> Watchdog:
    return Watchdog(lambda: procs, lambda: killed.append(True), tmp_path, Limits(poll_seconds=0.01, **limits))


def test_a_memory_hit_in_a_step_is_returned_with_its_cell_and_kills_the_tree(tmp_path):
    killed: list = []
    watchdog = _watchdog(tmp_path, [_Proc(600 * MiB), _Proc(600 * MiB)], killed, memory_bytes=1 * GiB)
    value, trip = watchdog.watch(4, float("inf"), lambda: "done")
    assert (value, trip) == ("done", Trip("memory", "memory limit (1 GiB) exceeded", 4))
    assert killed and watchdog.peak_memory == 1200 * MiB


def test_a_step_within_the_limits_returns_no_trip(tmp_path):
    killed: list = []
    watchdog = _watchdog(tmp_path, [_Proc(10 * MiB)], killed)
    assert watchdog.watch(0, float("inf"), lambda: 7) == (7, None)
    assert killed == [] and watchdog.peak_memory == 10 * MiB


def test_too_many_processes_is_a_trip(tmp_path):
    watchdog = _watchdog(tmp_path, [_Proc(1)] * 5, [], processes=4)
    assert watchdog.watch(1, float("inf"), lambda: None)[1] == Trip("processes", "process limit (4) exceeded", 1)


def test_the_first_hit_is_the_one_kept(tmp_path):
    watchdog = _watchdog(tmp_path, [_Proc(10 * GiB)], [], memory_bytes=1 * GiB)
    _, trip = watchdog.watch(2, float("inf"), lambda: watchdog.fire("output", "output limit (8 MiB) exceeded"))
    assert trip == Trip("output", "output limit (8 MiB) exceeded", 2)


def test_a_step_past_its_deadline_is_a_time_trip(tmp_path):
    watchdog = _watchdog(tmp_path, [], [])
    _, trip = watchdog.watch(3, 0.0, lambda: None)
    assert trip == Trip("time", "time limit exceeded and the kernel would not stop", 3)


def test_disk_is_looked_at_after_every_step(tmp_path):
    (tmp_path / "big").write_bytes(b"\1" * 200_000)
    watchdog = _watchdog(tmp_path, [], [], scratch_bytes=100_000)
    _, trip = watchdog.watch(0, float("inf"), lambda: None)
    assert trip == Trip("disk", "disk limit (97.7 KiB) exceeded", 0)


def test_a_kernel_dies_with_the_process_that_started_it():
    # A Dask worker SIGKILLed while it started a kernel (before bubblewrap armed --die-with-parent)
    # left the kernel running with no watchdog. Here the starter is killed right after the spawn.
    import signal
    import subprocess
    import time

    import psutil

    starter = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\n"
        "from grader.provisioner import child_setup\n"
        "from grader.sandbox import Limits\n"
        "child = subprocess.Popen(['sleep', '600'], preexec_fn=child_setup(Limits(), None))\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
    with starter:
        child = psutil.Process(int(starter.stdout.readline()))
        starter.send_signal(signal.SIGKILL)
    for _ in range(600):  # the signal comes at once; this only waits for the kernel to reap it
        if not child.is_running() or child.status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.05)
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
