"""PyTorch model definitions exported by ``torch.onnx`` in the tests (plain ``torch.nn``, no torchvision).

Small widths and resolutions so a test runs in seconds, but the same layer patterns as the published
networks: inverted residuals (MobileNetV2), hardswish / hardsigmoid squeeze-excite (MobileNetV3-Small),
sigmoid squeeze-excite residual blocks (ResNet-SE), ConvTranspose / Upsample + Concat skips (U-Net),
Conv1d, GRU and LSTM layers.
"""

from __future__ import annotations

import torch
from torch import nn


def _div(v: float, d: int = 8) -> int:
    """Channels rounded to a multiple of ``d`` as torchvision's ``_make_divisible``."""
    n = max(d, int(v + d / 2) // d * d)
    return n + d if n < 0.9 * v else n


class ConvBN(nn.Sequential):
    def __init__(self, cin, cout, k=3, s=1, groups=1, act=nn.ReLU6):
        layers = [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        super().__init__(*layers, *([act()] if act else []))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hid = cin * expand
        self.res = stride == 1 and cin == cout
        layers = [ConvBN(cin, hid, 1)] if expand != 1 else []
        layers += [ConvBN(hid, hid, 3, stride, groups=hid), ConvBN(hid, cout, 1, act=None)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x) if self.res else self.body(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (width 0.35) with a shortened stage table."""

    def __init__(self, width=0.35, classes=10):
        super().__init__()
        cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 2, 2), (6, 64, 1, 2), (6, 96, 1, 1)]
        c = _div(32 * width)
        layers = [ConvBN(3, c, 3, 2)]
        for t, ch, n, s in cfg:
            out = _div(ch * width)
            for i in range(n):
                layers.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
        layers.append(ConvBN(c, 128, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(128, classes)

    def forward(self, x):
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))


class SqueezeExcite(nn.Module):
    def __init__(self, c, squeeze, gate=nn.Hardsigmoid, act=nn.ReLU):
        super().__init__()
        self.fc1, self.act = nn.Conv2d(c, squeeze, 1), act()
        self.fc2, self.gate = nn.Conv2d(squeeze, c, 1), gate()

    def forward(self, x):
        s = nn.functional.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


class V3Block(nn.Module):
    def __init__(self, cin, k, exp, cout, se, act, stride):
        super().__init__()
        self.res = stride == 1 and cin == cout
        layers = [ConvBN(cin, exp, 1, act=act)] if exp != cin else []
        layers.append(ConvBN(exp, exp, k, stride, groups=exp, act=act))
        if se:
            layers.append(SqueezeExcite(exp, _div(exp // 4)))
        layers.append(ConvBN(exp, cout, 1, act=None))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x) if self.res else self.body(x)


class MobileNetV3Small(nn.Module):
    """MobileNetV3-Small at width 0.5: hardswish, hardsigmoid-gated squeeze-excite."""

    def __init__(self, width=0.5, classes=10):
        super().__init__()
        hs, re = nn.Hardswish, nn.ReLU
        cfg = [(16, 3, 16, 16, True, re, 2), (16, 3, 72, 24, False, re, 2), (24, 3, 88, 24, False, re, 1),
               (24, 5, 96, 40, True, hs, 2), (40, 5, 240, 40, True, hs, 1), (40, 5, 120, 48, True, hs, 1),
               (48, 5, 288, 96, True, hs, 2)]
        first = _div(16 * width)
        layers = [ConvBN(3, first, 3, 2, act=hs)]
        c = first
        for cin, k, exp, cout, se, act, s in cfg:
            out = _div(cout * width)
            layers.append(V3Block(c, k, _div(exp * width), out, se, act, s))
            c = out
        last = _div(576 * width)
        layers.append(ConvBN(c, last, 1, act=hs))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(last, 128), nn.Hardswish(), nn.Linear(128, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))


class SEBasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = ConvBN(cin, cout, 3, stride, act=nn.ReLU)
        self.conv2 = ConvBN(cout, cout, 3, act=None)
        self.se = SqueezeExcite(cout, max(cout // 4, 4), gate=nn.Sigmoid)
        self.down = ConvBN(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return torch.relu(self.se(self.conv2(self.conv1(x))) + self.down(x))


class ResNetSE(nn.Module):
    """A three-stage ResNet of squeeze-excite basic blocks (sigmoid gates)."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = ConvBN(3, 16, 3, act=nn.ReLU)
        self.blocks = nn.Sequential(SEBasicBlock(16, 16, 1), SEBasicBlock(16, 32, 2), SEBasicBlock(32, 48, 2))
        self.fc = nn.Linear(48, classes)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1), 1))


class TinyUNet(nn.Module):
    """Two-level U-Net: one decoder step by ConvTranspose, one by nearest Upsample, skips by Concat."""

    def __init__(self, cin=1, classes=2, c=8):
        super().__init__()
        relu = nn.ReLU
        self.enc1 = nn.Sequential(ConvBN(cin, c, act=relu), ConvBN(c, c, act=relu))
        self.enc2 = nn.Sequential(ConvBN(c, 2 * c, act=relu), ConvBN(2 * c, 2 * c, act=relu))
        self.mid = nn.Sequential(ConvBN(2 * c, 4 * c, act=relu))
        self.up2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
        self.dec2 = ConvBN(4 * c, 2 * c, act=relu)
        self.up1 = nn.Upsample(scale_factor=2, mode="nearest")
        self.dec1 = ConvBN(3 * c, c, act=relu)
        self.head = nn.Conv2d(c, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(nn.functional.max_pool2d(e1, 2))
        m = self.mid(nn.functional.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)


class Conv1dClassifier(nn.Module):
    """1-D CNN over a (channels, time) signal: Conv1d + BatchNorm1d + ReLU, pooling, a linear head."""

    def __init__(self, cin=3, classes=6):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(cin, 16, 5, padding=2, bias=False), nn.BatchNorm1d(16), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(16, 32, 3, padding=1, bias=False), nn.BatchNorm1d(32), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(32, 32, 3, stride=2, padding=1), nn.ReLU())
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        return self.fc(self.body(x).mean(-1))


class GRUKWS(nn.Module):
    """Keyword spotter: GRU (hidden 32) over 49 frames of 10 MFCCs, a linear head on the last step."""

    def __init__(self, feats=10, hidden=32, classes=12):
        super().__init__()
        self.gru = nn.GRU(feats, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        y, _ = self.gru(x)
        return self.fc(y[:, -1])


class LSTMAutoencoder(nn.Module):
    """Sequence autoencoder: an LSTM encodes, its last state is repeated over time and decoded by an LSTM."""

    def __init__(self, feats=4, hidden=16, steps=12):
        super().__init__()
        self.steps = steps
        self.enc = nn.LSTM(feats, hidden, batch_first=True)
        self.dec = nn.LSTM(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, feats)

    def forward(self, x):
        _, (h, _) = self.enc(x)
        z = h[-1].unsqueeze(1).expand(-1, self.steps, -1)
        y, _ = self.dec(z)
        return self.out(y)


#: name -> (constructor, input shape); BatchNorm folding applies to the models that have any
NETS = {
    "mobilenet_v2": (MobileNetV2, (1, 3, 64, 64)),
    "mobilenet_v3_small": (MobileNetV3Small, (1, 3, 64, 64)),
    "resnet_se": (ResNetSE, (1, 3, 32, 32)),
    "unet": (TinyUNet, (1, 1, 32, 32)),
    "conv1d": (Conv1dClassifier, (1, 3, 64)),
    "gru_kws": (GRUKWS, (1, 49, 10)),
    "lstm_autoencoder": (LSTMAutoencoder, (1, 12, 4)),
}


def build(name: str, seed: int = 0) -> nn.Module:
    """``name``'s network in eval mode with seeded weights and non-trivial BatchNorm statistics."""
    torch.manual_seed(seed)
    net = NETS[name][0]().eval()
    g = torch.Generator().manual_seed(seed + 1)
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
    return net


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """``net`` with every Conv + BatchNorm pair fused by ``torch.nn.utils.fusion.fuse_conv_bn_eval``."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    def visit(mod):
        names = list(mod._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = mod._modules[a], mod._modules[b]
            if isinstance(conv, (nn.Conv1d, nn.Conv2d)) and isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d)):
                mod._modules[a] = fuse_conv_bn_eval(conv, bn)
                mod._modules[b] = nn.Identity()
        for child in mod._modules.values():
            if child is not None:
                visit(child)

    visit(net)
    return net


def has_batchnorm(name: str) -> bool:
    return any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in NETS[name][0]().modules())


def export(net: nn.Module, shape, path, *, dynamo: bool, optimize: bool = True) -> None:
    """Write ``net`` to ``path`` with the dynamo (``torch.export``) or the TorchScript exporter.

    Both exporters fold an eval-mode BatchNorm into the convolution before it reaches the file;
    ``optimize=False`` (dynamo: no onnxscript optimizer; TorchScript: no constant folding) writes
    the graph as traced, with its ``BatchNormalization`` nodes (and dynamo's Shape/Expand/CastLike).
    """
    x = torch.randn(*shape)
    kw = {"optimize": optimize} if dynamo else {"opset_version": 17, "do_constant_folding": optimize}
    torch.onnx.export(net, (x,), str(path), dynamo=dynamo, input_names=["x"], output_names=["y"], **kw)
