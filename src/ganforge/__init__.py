"""ganforge: train, watch, evaluate and apply GANs on your own data."""
__version__ = "0.1.0"

from .api import Run, load, train  # noqa: E402
from .io.errors import GanforgeError  # noqa: E402
from .metrics.evaluate import evaluate  # noqa: E402

__all__ = ["train", "load", "evaluate", "Run", "GanforgeError", "__version__"]
