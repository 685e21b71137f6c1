"""Learning-curve figures (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .export import atomic_path  # noqa: E402


def learning_curves(runs: dict, path, title: str = "") -> Path:
    """Test accuracy and training loss per epoch for each run; ``runs`` maps a label to a training dataset."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for label, ds in runs.items():
        ax1.plot(ds.epoch, 100 * ds.test_accuracy, marker="o", label=label)
        ax2.plot(ds.epoch, ds.train_loss, marker="o", label=label)
    ax1.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy")
    ax2.set(xlabel="epoch", ylabel="cross-entropy", title="training loss", yscale="log")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return Path(path)
