"""Quality metrics. Each states its protocol next to its numbers."""
