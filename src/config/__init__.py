"""The training config: its typed schema, the gate that checks it, and Hydra around it."""
