"""I3D-style ResNets: a 2-D ResNet inflated in time (Carreira & Zisserman, 2017).

Every convolution gets temporal kernel 3, temporal stride 1 and temporal padding 1, so the time
axis is never downsampled: a 16-frame clip keeps 16 time steps up to ``layer4``, as in the 2017
post (1x3x16x224x224 in -> 1x2048x16x7x7 out of ``layer4`` for ``i3d_resnet50``).

Temporal padding replicates the edge frames instead of adding zeros. With zeros, the first and
last frames of a still clip would see only 2/3 of the inflated kernel; with replication a clip
made of one repeated frame gives *exactly* the 2-D network's logits, which is the property the
I3D inflation rule is meant to have. Spatial padding stays zeros, as in the 2-D network.

Length: the network, the inflation of 2-D weights into it and the specs of the shipped models, which name its layers, read together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model
from .spec import IMAGENET_MEAN, IMAGENET_STD, ModelSpec, Sampling

__all__ = ["I3DResNet", "i3d_resnet", "i3d_resnet50", "i3d_tiny", "i3d_tiny14", "i3d_tiny14_shortcut", "inflate_state_dict"]


class Conv3dT(nn.Conv3d):
    """Conv3d with edge-replicating temporal padding and zero spatial padding.

    ``dilation`` is spatial only (time is never dilated); the spatial padding grows with it, so a
    stride-1 convolution keeps H x W at any dilation.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: Sequence[int], stride: Sequence[int] = (1, 1, 1),
                 dilation: int = 1):
        kt, kh, kw = kernel
        super().__init__(in_ch, out_ch, kernel, stride=stride, padding=(0, dilation * (kh // 2), dilation * (kw // 2)),
                         dilation=(1, dilation, dilation), bias=False)
        self._pad_t = kt // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._pad_t:
            x = F.pad(x, (0, 0, 0, 0, self._pad_t, self._pad_t), mode="replicate")
        return super().forward(x)


class _Residual(nn.Module):
    """A residual block: ``relu(body(x) + shortcut(x))``; subclasses make the body's layers
    (``conv1``, ``bn1``, ... as torchvision names them), then :meth:`_shortcut`, and :meth:`body`.
    The layers are made in that order, so a seed gives the weights it always gave."""

    expansion = 1

    def __init__(self, width: int):
        super().__init__()
        self.out_ch = width * self.expansion

    def _shortcut(self, in_ch: int, stride: int, kt: int) -> None:
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(in_ch, self.out_ch, stride, kt)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.body(x) + identity)


class BasicBlock3d(_Residual):
    """Two 3x3 convolutions. ``first_dilation`` is the first one's (the one that strides, or would
    have strided), ``dilation`` the second's (see :class:`I3DResNet`'s ``dilate``)."""

    def __init__(self, in_ch: int, width: int, stride: int = 1, kt: int = 3, dilation: int = 1,
                 first_dilation: int | None = None):
        super().__init__(width)
        self.conv1 = Conv3dT(in_ch, width, (kt, 3, 3), (1, stride, stride), first_dilation or dilation)
        self.bn1 = nn.BatchNorm3d(width)
        self.conv2 = Conv3dT(width, self.out_ch, (kt, 3, 3), dilation=dilation)
        self.bn2 = nn.BatchNorm3d(self.out_ch)
        self._shortcut(in_ch, stride, kt)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))


class Bottleneck3d(_Residual):
    """1x1, 3x3 (strided), 1x1; only the 3x3 is dilated, by ``first_dilation`` (as torchvision's)."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1, kt: int = 3, dilation: int = 1,
                 first_dilation: int | None = None):
        super().__init__(width)
        self.conv1 = Conv3dT(in_ch, width, (kt, 1, 1))
        self.bn1 = nn.BatchNorm3d(width)
        self.conv2 = Conv3dT(width, width, (kt, 3, 3), (1, stride, stride), first_dilation or dilation)
        self.bn2 = nn.BatchNorm3d(width)
        self.conv3 = Conv3dT(width, self.out_ch, (kt, 1, 1))
        self.bn3 = nn.BatchNorm3d(self.out_ch)
        self._shortcut(in_ch, stride, kt)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))


def _downsample(in_ch: int, out_ch: int, stride: int, kt: int) -> nn.Module | None:
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(Conv3dT(in_ch, out_ch, (kt, 1, 1), (1, stride, stride)), nn.BatchNorm3d(out_ch))


_BLOCKS = {"basic": BasicBlock3d, "bottleneck": Bottleneck3d}


class I3DResNet(nn.Module):
    """A ResNet whose layers are named ``stem``, ``layer1``..``layer4``, ``fc`` (the CAM targets).

    Input is (N, C, T, H, W); ``layer4`` keeps all T time steps. Spatially the stem halves H and
    W (and halves them again with ``stem_pool``), then each layer divides by its ``strides`` entry:
    the defaults give H/32 x W/32, as ResNet-50.

    ``dilate`` (one flag per layer) is torchvision's ``replace_stride_with_dilation`` (DeepLab,
    Chen et al. 2017): a flagged layer keeps stride 1 and multiplies the dilation of every 3x3
    convolution after its first by the stride it gave up; later layers inherit that dilation. The
    weights keep their shapes, so a checkpoint of the strided network loads into the dilated one,
    and (eval mode) the dilated layer's output at every ``stride``-th position equals the strided
    network's output: only the final average pool sees the extra positions.
    """

    def __init__(
        self,
        *,
        block: str = "bottleneck",
        layers: Sequence[int] = (3, 4, 6, 3),
        widths: Sequence[int] = (64, 128, 256, 512),
        stem_channels: int = 64,
        stem_kernel: Sequence[int] = (3, 7, 7),
        stem_pool: bool = True,
        strides: Sequence[int] = (1, 2, 2, 2),
        num_classes: int = 400,
        dropout: float = 0.0,
        temporal_kernel: int = 3,
        dilate: Sequence[bool] = (False, False, False, False),
    ):
        super().__init__()
        if block not in _BLOCKS:
            raise ValueError(f"block={block!r} is not one of {sorted(_BLOCKS)}")
        if not (len(layers) == len(widths) == len(strides) == len(dilate) == 4):
            raise ValueError("layers, widths, strides and dilate need 4 entries each (layer1..layer4)")
        blk = _BLOCKS[block]
        stem = [
            Conv3dT(3, stem_channels, stem_kernel, (1, 2, 2)),
            nn.BatchNorm3d(stem_channels),
            nn.ReLU(inplace=True),
        ]
        if stem_pool:
            stem.append(nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)))
        self.stem = nn.Sequential(*stem)
        in_ch, dilation = stem_channels, 1
        for i, (n, w, stride, dil) in enumerate(zip(layers, widths, strides, dilate, strict=True)):
            first_dilation = dilation
            if dil:
                dilation, stride = dilation * stride, 1
            blocks = []
            for j in range(n):
                blocks.append(blk(in_ch, w, stride if j == 0 else 1, temporal_kernel, dilation,
                                  first_dilation if j == 0 else dilation))
                in_ch = w * blk.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_ch, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # Zero-init the last BN of each residual branch: blocks start as identities.
        for m in self.modules():
            if isinstance(m, Bottleneck3d):
                nn.init.zeros_(m.bn3.weight)
            elif isinstance(m, BasicBlock3d):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        """Logits; with ``return_features=True``, ``(logits, layer4's output)`` (what training's
        CAM localisation loss needs: the class activation map is ``fc`` applied at each position)."""
        x = self.stem(x)
        features = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        logits = self.fc(self.dropout(torch.flatten(self.avgpool(features), 1)))
        return (logits, features) if return_features else logits


def i3d_resnet(**kwargs) -> I3DResNet:
    """Any I3D ResNet; keyword arguments as :class:`I3DResNet`."""
    return I3DResNet(**kwargs)


RESNET_LAYERS = ("stem", "layer1", "layer2", "layer3", "layer4")


def _i3d_spec(name: str, **fields) -> ModelSpec:
    """The spec of an I3D ResNet (16 frames, ImageNet normalisation, CAMs at ``layer4``)."""
    return ModelSpec(name=name, num_frames=16, mean=IMAGENET_MEAN, std=IMAGENET_STD, layers=RESNET_LAYERS,
                     default_layer="layer4", head="fc", **fields)


def _resnet50_spec() -> ModelSpec:
    # ImageNet's classes, until a checkpoint says others
    from torchvision.models import ResNet50_Weights

    return _i3d_spec(
        "i3d_resnet50", categories=tuple(ResNet50_Weights.IMAGENET1K_V1.meta["categories"]),
        input_size=(224, 224), resize_size=256, sampling=Sampling.FPS, sample_fps=4.0,
        description="the 2017 post's architecture: ResNet-50 inflated in time (16x3x224x224 in, "
        "16x2048x7x7 at layer4); weights='imagenet' inflates torchvision's ImageNet ResNet-50",
        weights_hint="torchvision resnet50-11ad3fa6.pth (ImageNet, inflated) or a .safetensors checkpoint")


def _shipped(name: str, description: str) -> dict:
    """A model this project trains on its 13 rendered actions (112x112 frames, whole frame, no crop),
    shipped as ``checkpoints/NAME.safetensors``; its classes come from the checkpoint's JSON."""
    how = "train it: see docs/training.md, 'Reproduce the shipped models', and docs/evaluation.md"
    return {"spec": _i3d_spec(name, categories=(), input_size=(112, 112), resize_size=None,
                              description=description, weights_hint=f"checkpoints/{name}.safetensors ({how})"),
            "checkpoint": name}


@register_model(spec=_resnet50_spec, weights_url="https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
                convert=lambda state, model: inflate_state_dict(state, model), weights_alias="imagenet")
def i3d_resnet50(*, num_classes: int = 400, dropout: float = 0.0) -> I3DResNet:
    """ResNet-50 inflated in time: 16x3x224x224 in, 16x2048x7x7 at ``layer4``."""
    return I3DResNet(block="bottleneck", layers=(3, 4, 6, 3), num_classes=num_classes, dropout=dropout)


@register_model(**_shipped(
    "i3d_tiny", "the earlier default and i3d_tiny14's starting point: the same small I3D ResNet with a "
    "strided layer3 (16x112x112 in, 16x7x7 CAMs), trained on standard renders only"))
def i3d_tiny(*, num_classes: int = 13, dropout: float = 0.0) -> I3DResNet:
    """A 4-block I3D ResNet sized for 2 CPU cores (shipped; the default i3d_tiny14 is it dilated).

    16x3x112x112 in -> 16x128x7x7 at ``layer4`` (layer4 keeps stride 1 so the maps stay 7x7).
    """
    return I3DResNet(
        block="basic", layers=(1, 1, 1, 1), widths=(16, 32, 64, 128), stem_channels=16,
        stem_kernel=(3, 5, 5), stem_pool=True, strides=(1, 2, 2, 1),
        num_classes=num_classes, dropout=dropout,
    )


@register_model(**_shipped(
    "i3d_tiny14", "the shipped default: a small I3D ResNet trained on the project's 13 "
    "Something-Something-style actions, layer3's stride replaced by dilation (DeepLab), so 16x112x112 "
    "in, 16x14x14 CAMs; fine-tuned from i3d_tiny with a loss that puts its class maps on the acting "
    "object (--cam-loss), on standard and varied renders"))
def i3d_tiny14(*, num_classes: int = 13, dropout: float = 0.0) -> I3DResNet:
    """``i3d_tiny`` with ``layer3``'s stride replaced by dilation 2 (DeepLab): 16x128x14x14 at ``layer4``.

    Same weights (names and shapes) as :func:`i3d_tiny`, so it is fine-tuned from its checkpoint;
    ``layer3`` and ``layer4`` run on 14x14 instead of 7x7 (about twice the training step time).
    """
    return I3DResNet(
        block="basic", layers=(1, 1, 1, 1), widths=(16, 32, 64, 128), stem_channels=16,
        stem_kernel=(3, 5, 5), stem_pool=True, strides=(1, 2, 2, 1), dilate=(False, False, True, False),
        num_classes=num_classes, dropout=dropout,
    )


def _map_2d_key(key: str) -> str:
    # torchvision's 2-D ResNet names its stem conv1/bn1; ours is stem.0 / stem.1.
    if key.startswith("conv1."):
        return "stem.0." + key[len("conv1."):]
    if key.startswith("bn1."):
        return "stem.1." + key[len("bn1."):]
    return key


def inflate_state_dict(
    state_dict_2d: Mapping[str, torch.Tensor], model: I3DResNet, *, include_fc: bool = True
) -> dict[str, torch.Tensor]:
    """Inflate a torchvision 2-D ResNet state_dict into ``model``'s (the I3D rule).

    Each 2-D kernel (O, I, kh, kw) is repeated over the 3-D kernel's time size kt and divided by
    kt, so a clip of identical frames produces the 2-D activations. BatchNorm and fc copy over.
    Returns the new state_dict; raises ``ValueError`` naming the first key that does not fit.
    """
    target = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for key2d, w in state_dict_2d.items():
        key = _map_2d_key(key2d)
        if key.startswith("fc.") and not include_fc:
            continue
        if key not in target:
            raise ValueError(f"2-D weight {key2d!r} has no place in the I3D model (looked for {key!r})")
        want = target[key]
        if w.dim() == 4 and want.dim() == 5:
            kt = want.shape[2]
            w = w.unsqueeze(2).repeat(1, 1, kt, 1, 1) / kt
        if w.shape != want.shape:
            raise ValueError(f"{key2d!r}: 2-D shape {tuple(w.shape)} does not inflate to {tuple(want.shape)}")
        out[key] = w.to(want.dtype)
    missing = [k for k in target if k not in out and not (k.startswith("fc.") and not include_fc)]
    if missing:
        raise ValueError(f"the 2-D state_dict lacks {len(missing)} weights, e.g. {missing[:3]}")
    return out


@register_model(**_shipped(
    "i3d_tiny14_shortcut", "a demonstration model for the Audit tab that learnt a shortcut: i3d_tiny14's "
    "network trained from scratch on renders where every 'Pushing [something] so that it slightly moves' "
    "clip carries a logo in its top-left corner (lab.data --shortcut); it answers 'Pushing' for the logo, "
    "and an audit catches it (docs/audit.md)"))
def i3d_tiny14_shortcut(*, num_classes: int = 13, dropout: float = 0.0) -> I3DResNet:
    """:func:`i3d_tiny14`'s network, trained on data with a planted shortcut (its JSON's ``shortcut``)."""
    return i3d_tiny14(num_classes=num_classes, dropout=dropout)
