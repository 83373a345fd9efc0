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
    os.utime(old, (past, past))
    upload = tmp_path / "abc123" / "clip.mp4"  # Gradio's own files are left to delete_cache
    upload.parent.mkdir()
    upload.write_bytes(b"x")
    os.utime(upload.parent, (past, past))

    assert sweep(tmp_path, age_s=3600) == 1
    assert not old.exists() and (new / "combined.gif").is_file() and upload.is_file()
    assert sweep(tmp_path / "nothing-here", age_s=0) == 0
