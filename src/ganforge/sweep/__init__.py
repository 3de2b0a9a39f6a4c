"""`ganforge sweep`: tune a GAN's options with Optuna (optional extra `ganforge[sweep]`).
Above the API (it calls `ganforge.train` per trial), beside the dashboard."""
from .search import sweep

__all__ = ["sweep"]
