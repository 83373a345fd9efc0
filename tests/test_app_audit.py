"""The Audit tab: hostile archives are refused without writing outside the job's folder, a real
upload is audited through the API, and the sample button catches the shortcut model."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import pytest
from gradio_client import handle_file

from core.errors import UserError
from demo import audit_upload
from demo.audit_upload import unpack
from harness import ROOT
from lab.data import CLASSES, SSv2Dataset, write_dataset

SMALL = {"size": (96, 128), "fps": 12, "duration": 2.0}


def _zip(path, members: dict, *, symlinks=()):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """13 rendered clips, one per class, and their labels as SSv2 writes them (no brackets)."""
    root = tmp_path_factory.mktemp("clips")
    write_dataset(root, n_train=0, n_val=0, n_test=13, seed=12, render_options=SMALL)
    ds = SSv2Dataset(root, "test", classes=CLASSES)
    return [(ds.video_path(i), CLASSES[s.target].replace("[", "").replace("]", "")) for i, s in enumerate(ds.samples)]


def _good(clips) -> dict:
    members = {f"set/{p.name}": p.read_bytes() for p, _ in clips}
    members["set/labels.csv"] = "file,label\n" + "".join(f"{p.name},{lab}\n" for p, lab in clips)
    return members


def test_a_good_archive_unpacks_into_the_job_folder(clips, tmp_path):
    folder, labels = unpack(_zip(tmp_path / "a.zip", _good(clips)), tmp_path / "job")
    assert folder == (tmp_path / "job" / "set").resolve() and labels.name == "labels.csv"
    assert sorted(p.name for p in folder.iterdir()) == sorted([p.name for p, _ in clips] + ["labels.csv"])


@pytest.mark.parametrize("members, symlinks, message", [
    ({"../evil.mp4": b"x", "labels.csv": b""}, (), "outside"),
    ({"/etc/evil.mp4": b"x", "labels.csv": b""}, (), "absolute"),
    ({"a\\..\\evil.mp4": b"x", "labels.csv": b""}, (), "Windows"),
    ({"labels.csv": b"", "a.mp4": b"x"}, [("link.mp4", "/etc/passwd")], "link"),
    ({"labels.csv": b"", "run.sh": b"rm -rf /"}, (), "neither a video"),
    ({"a.mp4": b"x"}, (), "no labels.csv"),
    ({"labels.csv": b"", "x/labels.csv": b"", "a.mp4": b"x"}, (), "2 labels.csv"),
    ({"labels.csv": b""}, (), "no clips"),
    ({"labels.csv": b"", "big.mp4": bytes(8 * 2**20)}, (), "zip bomb"),
])
def test_hostile_archives_are_refused_and_nothing_is_written_outside(members, symlinks, message, tmp_path):
    archive = _zip(tmp_path / "bad.zip", members, symlinks=symlinks)
    job = tmp_path / "deep" / "job"
    with pytest.raises(UserError, match=message):
        unpack(archive, job)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != archive]
    assert all(job in p.parents for p in written)
    assert not (tmp_path / "deep" / "evil.mp4").exists() and not (tmp_path / "evil.mp4").exists()


def test_too_many_clips_too_large_and_not_a_zip_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(audit_upload, "AUDIT_MAX_CLIPS", 2)
    with pytest.raises(UserError, match="3 clips; the limit here is 2"):
        unpack(_zip(tmp_path / "a.zip", {"labels.csv": b"", "1.mp4": b"1", "2.mp4": b"2", "3.mp4": b"3"}), tmp_path / "j")
    monkeypatch.setattr(audit_upload, "AUDIT_MAX_UNPACKED_MB", 1)
    with pytest.raises(UserError, match="unpacks to 2 MB"):
        unpack(_zip(tmp_path / "b.zip", {"labels.csv": b"", "1.mp4": bytes(2 * 2**20)}), tmp_path / "k")
    (tmp_path / "c.zip").write_bytes(b"PK not really")
    with pytest.raises(UserError, match=r"not a \.zip"):
        unpack(tmp_path / "c.zip", tmp_path / "l")


def test_an_archive_whose_header_lies_about_a_size_is_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("labels.csv", b"")
        zf.writestr("a.mp4", b"0123456789")
    data = bytearray(buf.getvalue())
    # shrink a.mp4's declared size in the central directory (and its local header) from 10 to 4
    for sig, off in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            name_at = i + (46 if sig == b"PK\x01\x02" else 30)
            if data[name_at:name_at + 5] == b"a.mp4":
                data[i + off:i + off + 4] = (4).to_bytes(4, "little")
            start = i + 4
    (tmp_path / "lie.zip").write_bytes(bytes(data))
    with pytest.raises(UserError):
        unpack(tmp_path / "lie.zip", tmp_path / "job")


@pytest.mark.slow
def test_the_audit_tab_audits_an_uploaded_archive(client, clips, tmp_path):
    archive = _zip(tmp_path / "mine.zip", _good(clips))
    summary, frame, files = client.predict(handle_file(str(archive)), "i3d_tiny14", api_name="/audit")
    assert "i3d_tiny14" in summary and "13 clips (0 unreadable)" in summary and "No class flagged" in summary
    assert frame.startswith("<iframe") and 'sandbox=""' in frame and "report" in frame
    paths = [f["path"] if isinstance(f, dict) else f for f in files]
    assert sorted(p.rsplit("/", 1)[-1] for p in paths) == ["audit.json", "audit_report.zip", "report.html"]
    doc = json.loads(Path(next(p for p in paths if p.endswith("audit.json"))).read_text())
    assert doc["videos"] == 13 and doc["labels"].endswith("labels.csv")


@pytest.mark.slow
def test_the_audit_tab_says_what_is_wrong_with_an_archive(client, clips, tmp_path):
    members = _good(clips)
    members["set/labels.csv"] += "missing.webm,Holding something\n"
    archive = _zip(tmp_path / "bad.zip", members)
    with pytest.raises(Exception, match="not in"):
        client.predict(handle_file(str(archive)), "i3d_tiny14", api_name="/audit")
    with pytest.raises(Exception, match="the archive was not used"):
        client.predict(handle_file(str(_zip(tmp_path / "evil.zip", {"../x.mp4": b"x", "labels.csv": b""}))),
                       "i3d_tiny14", api_name="/audit")


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "checkpoints" / "i3d_tiny14_shortcut.safetensors").is_file(),
                    reason="i3d_tiny14_shortcut is not trained here (docs/audit.md)")
def test_the_sample_button_catches_the_shortcut_model(client):
    summary, frame, _files = client.predict(api_name="/audit_sample")
    assert "i3d_tiny14_shortcut" in summary and "52 clips" in summary
    assert "Flagged: Pushing [something] so that it slightly moves" in summary
    assert summary.count("Flagged:") == 1 and "Evidence for the flag" in frame
