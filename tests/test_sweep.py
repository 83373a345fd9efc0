"""The app's own outputs do not pile up: request folders past the age are deleted, newer ones
(a user may still be downloading them) stay. The whole app under load: benchmarks/load.py."""

import os
import time

from demo.state import request_dir, sweep


def test_sweep_removes_only_request_folders_past_the_age(tmp_path):
    old, new = request_dir(tmp_path), request_dir(tmp_path)
    (old / "combined.gif").write_bytes(b"GIF89a")
    (new / "combined.gif").write_bytes(b"GIF89a")
    past = time.time() - 7200
    os.utime(old / "combined.gif", (past, past))
    os.utime(old, (past, past))
    upload = tmp_path / "abc123" / "clip.mp4"  # Gradio's own files are left to delete_cache
    upload.parent.mkdir()
    upload.write_bytes(b"x")
    os.utime(upload.parent, (past, past))

    assert sweep(tmp_path, age_s=3600) == 1
    assert not old.exists() and (new / "combined.gif").is_file() and upload.is_file()
    assert sweep(tmp_path / "nothing-here", age_s=0) == 0


def test_a_folder_is_as_old_as_its_files_not_as_its_last_deletion(tmp_path):
    """Gradio's delete_cache removing a served output from a scan's folder bumps the folder's
    mtime; its spooled frames must still go once they are past the age (they stayed a second
    hour: issue 37). A folder whose files are new stays, however old the folder."""
    scan, busy = request_dir(tmp_path), request_dir(tmp_path)
    past = time.time() - 7200
    for folder in (scan, busy):
        (folder / "frames.rgb").write_bytes(b"\0" * 64)
        (folder / "heatmap.mp4").write_bytes(b"x")
        os.utime(folder / "frames.rgb", (past, past))
    os.utime(scan / "heatmap.mp4", (past, past))
    (scan / "heatmap.mp4").unlink()  # delete_cache, just now: scan's own mtime is now
    os.utime(busy, (past, past))  # busy's heatmap.mp4 was written just now
    assert sweep(tmp_path, age_s=3600) == 1
    assert not scan.exists() and (busy / "heatmap.mp4").is_file()
