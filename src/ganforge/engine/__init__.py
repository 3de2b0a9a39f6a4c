"""The one training loop and what it needs: EMA, checkpoints, run directories."""
