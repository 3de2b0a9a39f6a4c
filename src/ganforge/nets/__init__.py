"""Network registry: every net is rebuilt from a JSON spec {"net": name, "kwargs": {...}}.

That is how a saved run is loaded without code execution: the spec names a class here, the
weights come from safetensors.
"""
from __future__ import annotations

from torch import nn

from ..io.errors import GanforgeError
from .anomaly import DetectorEnsemble, Encoder, FAnoGANNet, GanomalyNet
from .augment import Augment
from .conv import ContentClassifier, ConvDiscriminator, ConvGenerator
from .gated import GatedInpaintNet
from .lapgan import LapGenerator
from .mlp import MLPDiscriminator, MLPGenerator
from .patchgan import PatchGAN
from .pool import ImagePool
from .resnet_g import ResnetGenerator
from .rnn import SeqRNN, TimeGANSampler
from .specgan import SpecSampler
from .sr import SRResNet
from .stylegan import StyleDiscriminator, StyleGenerator
from .tabular import TableCritic, TableGenerator
from .text2img import TextConvDiscriminator, TextConvGenerator
from .unet import UNet
from .wavegan import WaveDiscriminator, WaveGenerator

# Every net a saved run can name. Explicit, so a fresh process knows them all without imports
# having to happen first; the names are part of the run format and never change meaning.
NETS: dict[str, type[nn.Module]] = {
    "anomaly_encoder": Encoder,
    "anomaly_ensemble": DetectorEnsemble,
    "augment": Augment,
    "content_classifier": ContentClassifier,
    "conv_d": ConvDiscriminator,
    "conv_g": ConvGenerator,
    "fanogan": FAnoGANNet,
    "ganomaly": GanomalyNet,
    "gated_inpaint": GatedInpaintNet,
    "lapgan_g": LapGenerator,
    "mlp_d": MLPDiscriminator,
    "mlp_g": MLPGenerator,
    "patchgan": PatchGAN,
    "image_pool": ImagePool,
    "resnet_g": ResnetGenerator,
    "seq_rnn": SeqRNN,
    "spec_sampler": SpecSampler,
    "srresnet": SRResNet,
    "style_d": StyleDiscriminator,
    "style_g": StyleGenerator,
    "table_d": TableCritic,
    "table_g": TableGenerator,
    "text_d": TextConvDiscriminator,
    "text_g": TextConvGenerator,
    "timegan_sampler": TimeGANSampler,
    "unet": UNet,
    "wave_d": WaveDiscriminator,
    "wave_g": WaveGenerator,
}


def build_net(spec: dict) -> nn.Module:
    """The net a JSON spec describes (a saved run's file may be damaged or hostile: only names
    in NETS are built, with keyword arguments checked by the class itself)."""
    name = spec.get("net") if isinstance(spec, dict) else None
    if name not in NETS:
        raise GanforgeError(f"unknown network {name!r} in saved run; "
                            f"was it made by a newer ganforge? known: {', '.join(NETS)}")
    kwargs = spec.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise GanforgeError(f"saved run describes network '{name}' with {type(kwargs).__name__} "
                            f"arguments, not a mapping; the run folder is damaged")
    try:
        return NETS[name](**kwargs)
    except (TypeError, ValueError, RuntimeError) as e:
        raise GanforgeError(f"saved run's network '{name}' cannot be built ({str(e).splitlines()[0]}); "
                            f"the run folder is damaged or from another ganforge version") from None
