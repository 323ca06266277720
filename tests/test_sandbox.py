"""sandbox.py: how a kernel is confined and watched, without starting one."""

from __future__ import annotations

from grader.sandbox import GiB, MiB, format_bytes, folder_usage


def test_format_bytes_names_the_largest_unit():
    assert (format_bytes(4 * GiB), format_bytes(64 * MiB), format_bytes(1536), format_bytes(100)) == (
        "4 GiB", "64 MiB", "1.5 KiB", "100 bytes")


def test_folder_usage_counts_entries_and_blocks(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_bytes(b"x" * 10000)
    used, count = folder_usage(tmp_path, 100)
    assert count == 2 and used >= 10000
