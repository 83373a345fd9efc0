"""Models: the I3D inflation property, shapes, the registry, and safe checkpoint loading."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
import torchvision

from core.models import (
    DEFAULT_MODEL,
    I3DResNet,
    UnknownModelError,
    WeightsError,
    get_spec,
    i3d_resnet50,
    i3d_tiny,
    inflate_state_dict,
    list_models,
    load_checkpoint,
    load_model,
    save_checkpoint,
)


def _randomise_bn(net: torch.nn.Module) -> None:
    for m in net.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.normal_(1, 0.2)
            m.bias.data.normal_(0, 0.2)


@pytest.mark.slow
def test_i3d_resnet50_layer4_is_16x2048x7x7():
    model = i3d_resnet50(num_classes=10).eval()
    shapes = {}
    model.layer4.register_forward_hook(lambda m, i, o: shapes.update(layer4=tuple(o.shape)))
    with torch.no_grad():
        out = model(torch.randn(1, 3, 16, 224, 224))
    assert shapes["layer4"] == (1, 2048, 16, 7, 7)
    assert out.shape == (1, 10)


def test_inflated_resnet50_on_a_boring_clip_equals_the_2d_net():
    torch.manual_seed(0)
    net2d = torchvision.models.resnet50().eval()
    _randomise_bn(net2d)
    net3d = i3d_resnet50(num_classes=1000).eval()
    net3d.load_state_dict(inflate_state_dict(net2d.state_dict(), net3d))
    image = torch.randn(2, 3, 64, 80)
    boring = image.unsqueeze(2).repeat(1, 1, 16, 1, 1)  # one frame repeated 16 times
    with torch.no_grad():
        want, got = net2d(image), net3d(boring)
    torch.testing.assert_close(got, want, atol=2e-4, rtol=1e-4)
    assert (got.argmax(1) == want.argmax(1)).all()


def test_inflate_rejects_a_state_dict_that_does_not_fit():
    net3d = i3d_resnet50(num_classes=1000)
    bad = torchvision.models.resnet18().state_dict()
    with pytest.raises(ValueError, match=r"inflate|no place|lacks"):
        inflate_state_dict(bad, net3d)


def test_i3d_tiny_keeps_16x7x7_at_layer4():
    model = i3d_tiny(num_classes=13).eval()
    shapes = {}
    model.layer4.register_forward_hook(lambda m, i, o: shapes.update(l4=tuple(o.shape)))
    with torch.no_grad():
        model(torch.randn(1, 3, 16, 112, 112))
    assert shapes["l4"][2:] == (16, 7, 7)


def test_i3d_tiny14_is_i3d_tiny_with_its_stride_turned_into_dilation():
    """DeepLab's conversion: the same weights load, layer3/layer4 keep 14x14, and (eval mode) every
    other position of the 14x14 layer4 is exactly the strided model's 7x7 layer4."""
    from core.models.i3d import i3d_tiny14

    torch.manual_seed(0)
    strided = i3d_tiny(num_classes=13).eval()
    _randomise_bn(strided)  # non-zero residual branches, so the dilated conv2s take part
    dilated = i3d_tiny14(num_classes=13).eval()
    dilated.load_state_dict(strided.state_dict())  # same names and shapes
    out = {}
    strided.layer4.register_forward_hook(lambda m, i, o: out.update(s=o))
    dilated.layer3.register_forward_hook(lambda m, i, o: out.update(d3=o))
    dilated.layer4.register_forward_hook(lambda m, i, o: out.update(d=o))
    x = torch.randn(1, 3, 16, 112, 112)
    with torch.no_grad():
        strided(x), dilated(x)
    assert out["d3"].shape[2:] == out["d"].shape[2:] == (16, 14, 14)
    torch.testing.assert_close(out["d"][..., ::2, ::2], out["s"], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out["d"][..., 1::2, 1::2], out["s"], atol=1e-3)  # new positions are new
    assert dilated.layer3[0].conv1.dilation == (1, 1, 1) and dilated.layer4[0].conv2.dilation == (1, 2, 2)


def test_registry_lists_models_with_specs():
    names = list_models()
    assert names[0] == "i3d_tiny14" == DEFAULT_MODEL
    assert {"i3d_resnet50", "i3d_tiny14", "r3d_18", "mc3_18", "r2plus1d_18", "s3d"} <= set(names)
    spec = get_spec("r3d_18")
    assert len(spec.categories) == 400 and spec.default_layer in spec.layers
    assert len(get_spec("i3d_tiny").categories) == 13
    with pytest.raises(UnknownModelError, match="choose one of"):
        get_spec("resnet9000")


@pytest.mark.parametrize("name", ["r3d_18", "mc3_18", "r2plus1d_18"])
def test_random_init_builds_and_runs(name):
    model = load_model(name, weights=None)
    assert not model.training and model.spec.name == name
    with torch.no_grad():
        assert model(torch.randn(1, 3, 8, 32, 32)).shape == (1, 400)


def test_missing_torchvision_weights_give_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(WeightsError, match="python -m core download r3d_18"):
        load_model("r3d_18", download=False)


def test_checkpoint_round_trip_and_tamper_detection(tmp_path):
    model = i3d_tiny(num_classes=13)
    meta = {"arch": "i3d_tiny", "categories": [f"c{i}" for i in range(13)], "num_frames": 16}
    path = save_checkpoint(model.state_dict(), meta, tmp_path / "m")
    loaded = load_model("i3d_tiny", weights=path)
    assert loaded.spec.categories == tuple(meta["categories"])
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        load_checkpoint(path)


class _Exploit:
    def __reduce__(self):
        return (open, ("/tmp/pwned-by-checkpoint", "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickled_checkpoints_are_refused(tmp_path):
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"w": _Exploit()}))
    with pytest.raises(WeightsError, match=r"only \.safetensors"):
        load_checkpoint(evil)
    # Even passed as a torchvision-style .pth file, the weights-only unpickler refuses it.
    with pytest.raises(WeightsError, match="safely"):
        load_model("r3d_18", weights=evil)
    disguised = tmp_path / "evil.safetensors"
    disguised.write_bytes(pickle.dumps({"w": _Exploit()}))
    (tmp_path / "evil.json").write_text('{"categories": ["a"]}')
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        load_checkpoint(disguised)
    assert not os.path.exists("/tmp/pwned-by-checkpoint")


def test_i3d_resnet_validates_arguments():
    with pytest.raises(ValueError, match="block="):
        I3DResNet(block="dense")


_IMPORTED = ("import json, sys, core.models\n"
             "s = core.models.get_spec('i3d_tiny14')\n"
             "heavy = ('core.data', 'lab', 'torchvision.models', 'transformers')\n"
             "print(json.dumps([list(s.categories), sorted(m for m in sys.modules if m.split('.')[0] == 'lab'"
             " or m.startswith(heavy))]))")


@pytest.mark.parametrize("checkpoints", ["shipped", "empty"])
def test_the_shipped_models_classes_come_from_their_checkpoint_json_alone(checkpoints, tmp_path):
    import json
    import subprocess
    import sys

    from core.models import weights

    folder = weights.CHECKPOINT_DIR if checkpoints == "shipped" else tmp_path
    env = {**os.environ, "VIDEOCAM_CHECKPOINTS": str(folder)}
    run = subprocess.run([sys.executable, "-c", _IMPORTED], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    categories, imported = json.loads(run.stdout)
    # the data generator, the lab and the heavy model zoos stay out of a spec look-up
    assert imported == []
    if checkpoints == "shipped":
        assert categories == json.loads((folder / "i3d_tiny14.json").read_text())["categories"]
        assert len(categories) == 13
    else:
        assert categories == []  # no JSON, no classes: never the generator's list


def test_spec_options_are_enums_parsed_once_with_a_helpful_error():
    import dataclasses

    from core.cam.layouts import LAYOUTS
    from core.errors import SettingsError
    from core.models import Layout, ModelSpec, Sampling

    assert {m.value for m in Layout} == set(LAYOUTS)  # one layout function per member
    spec = get_spec("s3d")
    assert spec.sampling is Sampling.UNIFORM and spec.layout is Layout.CHANNELS_FIRST and spec.head == "classifier"
    assert spec.layer_paths["mixed_5c"] == "features.15"
    swin = dataclasses.replace(spec, sampling="fps", layout="channels_last", sample_fps=15.0)
    assert swin.sampling is Sampling.FPS and swin.layout is Layout.CHANNELS_LAST and swin.sampling == "fps"
    assert swin.clip_duration == pytest.approx(32 / 15) and swin.clip_rate == pytest.approx(15.0)
    with pytest.raises(SettingsError, match=r"layout='tokens_thw'; choose one of channels_first, .*tokens_hwt"):
        dataclasses.replace(spec, layout="tokens_thw")
    with pytest.raises(SettingsError, match="sampling='random'"):
        ModelSpec(name="x", categories=("a",), num_frames=2, input_size=(8, 8), mean=(0.0,) * 3, std=(1.0,) * 3,
                  layers=("l",), default_layer="l", sampling="random")


def test_each_family_is_registered_where_it_is_defined():
    from core.models import registry

    builders = {n: registry._MODELS[n].build.__module__ for n in list_models()}
    assert builders["i3d_tiny14"] == builders["i3d_resnet50"] == "core.models.i3d"
    assert builders["r3d_18"] == builders["swin3d_t"] == "core.models.torchvision_video"
    assert {s.describe for s in registry._SOURCES} == {"a Hugging Face Hub id (org/name) or a folder written by save_pretrained"}
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model("r3d_18", spec=get_spec("r3d_18"))(i3d_tiny)


def test_every_readme_section_the_code_points_to_exists():
    # "see README, 'Heading'" or "docs/x.md, 'Heading'" in messages and docs: the page has that heading
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = [p for d in ("core", "lab", "demo") for p in (root / d).rglob("*") if p.suffix in (".py", ".md")]
    pointers = {m for p in files for m in re.findall(r"\b(README|docs/[\w.-]+\.md), '([^']+)'", p.read_text())}
    missing = {(page, h) for page, h in pointers if h not in {
        h.strip() for h in re.findall(r"^#+ (.+)$", (root / (page if page != "README" else "README.md")).read_text(), re.M)}}
    assert pointers and not missing, missing
    assert "does not offer these yet" not in (root / "README.md").read_text()  # the Model dropdown does


def test_a_seed_builds_the_weights_it_always_built():
    # lab.train's --seed reproduces a shipped checkpoint only if the architecture draws its initial
    # weights in the same order: a refactor that moves a layer's creation changes every weight
    import hashlib

    from core.models.i3d import i3d_tiny

    torch.manual_seed(0)
    state = i3d_tiny(num_classes=13).state_dict()
    digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in state.values())).hexdigest()
    assert digest == "5f275bf7cd90b4ed9a8b0e2acd3fe8d366c3f4fff42715fc197f578c79626f7f"  # as at 3b93ee1
