"""The classifier: blocks of convolution -> batch norm -> ReLU -> downsampling,
then global average pooling and ONE fully connected layer (softmax is applied
by the runtime, not in the graph).

With a single linear layer after the average pool, the class-activation map
is exact: logit[j] = b[j] + mean over pixels of sum_c W[j, c] F[c], so
sum_c (W[1, c] - W[0, c]) F[c] at each pixel is that pixel's share of the
synkinesis-minus-normal logit difference. `Exported` computes it inside the
graph so the runtime just reads it.
"""

from __future__ import annotations

import torch
from torch import nn


class Mirror(nn.Module):
    """Appends the left-right difference image: x and x - mirror(x).

    The standard view puts the eyes at fixed places symmetric about its
    vertical centre line, so mirroring maps each eye onto the other and each
    mouth corner onto the other. The decisive sign of synkinesis is an
    asymmetry of that kind (one eye narrowing while the mouth moves), which a
    small network with local receptive fields struggles to compare across
    34 px on its own; the difference channels put it in one place. The mirror
    is a Gather with reversed column indices, an op every runtime we target
    runs in float before the first quantized convolution.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rev = torch.arange(x.shape[3] - 1, -1, -1)
        return torch.cat([x, x - torch.index_select(x, 3, rev)], dim=1)


class Net(nn.Module):
    """`widths` gives one block per entry. `pool` is "stride" (the block's
    3x3 convolution has stride 2) or "max" (stride-1 convolution then a 2x2
    max pool). The last block never downsamples, so the CAM keeps its
    resolution."""

    def __init__(self, widths: list[int], pool: str = "stride", asymmetry: bool = False,
                 mouth_head: bool = False):
        super().__init__()
        self.mirror = Mirror() if asymmetry else None
        layers: list[nn.Module] = []
        cin = 6 if asymmetry else 3
        for i, w in enumerate(widths):
            last = i == len(widths) - 1
            stride = 2 if (pool == "stride" and not last) else 1
            layers += [
                nn.Conv2d(cin, w, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
            ]
            if pool == "max" and not last:
                layers.append(nn.MaxPool2d(2))
            cin = w
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, 2)
        # Training-only head: regresses the eyelid asymmetry |log(left/right
        # fissure height)| from the same pooled features. Not exported.
        self.aux = nn.Linear(cin, 1)
        # Training-only, when asked for: regresses the mouth-corner tilt. Made
        # last and only then, so runs without it draw the same initial weights.
        self.aux_mouth = nn.Linear(cin, 1) if mouth_head else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pooled(x))

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(self.mirror(x) if self.mirror is not None else x)
        return f.mean(dim=(2, 3))


class Exported(nn.Module):
    """What goes into the ONNX file: `logits` [1, 2] and `cam` [1, h, w]."""

    def __init__(self, net: Net):
        super().__init__()
        self.mirror = net.mirror
        self.features = net.features
        self.fc = net.fc
        w = net.fc.weight.detach()
        diff = (w[1] - w[0]).reshape(1, -1, 1, 1)
        self.cam = nn.Conv2d(diff.shape[1], 1, 1, bias=False)
        with torch.no_grad():
            self.cam.weight.copy_(diff)

    def forward(self, image: torch.Tensor):
        f = self.features(self.mirror(image) if self.mirror is not None else image)
        logits = self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(f, 1), 1))
        cam = self.cam(f).squeeze(1)
        return logits, cam


def export(net: Net, size: int, path: str) -> None:
    """Writes the f32 ONNX graph (opset 13, fixed batch 1)."""
    net = net.eval()
    wrapped = Exported(net).eval()
    dummy = torch.zeros(1, 3, size, size)
    torch.onnx.export(
        wrapped,
        (dummy,),
        path,
        input_names=["image"],
        output_names=["logits", "cam"],
        opset_version=13,
        do_constant_folding=True,
    )
