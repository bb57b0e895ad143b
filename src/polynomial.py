"""The handout's picture of model complexity: `python -m src.polynomial [key=value ...]`.

Fits polynomials of every degree to noisy samples of a quadratic for several seeds and writes
into outputs/polynomial/<date>/<time>/ fits.csv.gz (every fit), summary.md (the error by degree
with 95% intervals) and polynomial.png (the three fits of the handout and the error against
the degree). A minute at most, no torch (src/study/experiments/polynomial.py).
"""

from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from src.run import failures
from src.study.experiments import polynomial


@hydra.main(version_base="1.3", config_path="../conf", config_name="polynomial")
def main(cfg: DictConfig) -> None:
    folder = Path(HydraConfig.get().runtime.output_dir)
    fits = polynomial.measure(cfg.samples, cfg.noise, cfg.degrees, cfg.seeds, cfg.test_samples)
    fits.to_csv(folder / polynomial.FILE, index=False)
    x, y = polynomial.samples(
        cfg.samples, cfg.noise, np.random.default_rng(np.random.SeedSequence([0]))
    )
    written = [folder / polynomial.FILE, folder / "summary.md"]
    (folder / "summary.md").write_text(polynomial.summary_md(fits))
    written.append(polynomial.plot(fits, x, y, folder / "polynomial.png"))
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    with failures.entry_point("polynomial"):
        main()
