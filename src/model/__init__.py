"""The model: the MLP, the LightningModule that trains it, its metrics, its gradients by hand."""
