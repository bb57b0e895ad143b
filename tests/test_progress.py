import lightning as L
import pytest

from src.classifier import Classifier
from src.data import MNISTDataModule
from src.progress import ProgressBar


def test_bar_ends_on_the_last_epochs_train_metrics(tiny_data):
    L.seed_everything(0)
    bar = ProgressBar()
    model = Classifier(hidden=[8])
    data = MNISTDataModule(data_dir=str(tiny_data), val_size=20, batch_size=32, download=False)
    trainer = L.Trainer(
        max_epochs=3, callbacks=[bar], logger=False, enable_checkpointing=False, accelerator="cpu"
    )
    trainer.fit(model, datamodule=data)
    shown = dict(item.split("=") for item in bar.train_progress_bar.postfix.split(", "))
    last, before = model.history[-1]["train_loss"], model.history[-2]["train_loss"]
    assert abs(last - before) > 0.01, "the test needs two epochs that differ"
    assert float(shown["train/loss"]) == pytest.approx(last, abs=0.001)
