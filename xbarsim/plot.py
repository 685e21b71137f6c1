"""Learning-curve figures (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .export import atomic_path  # noqa: E402


def learning_curves(runs: dict, path, title: str = "") -> Path:
    """Test accuracy, training loss and (for runs with an A array) the Hamiltonian per epoch; ``runs`` maps
    a label to a training dataset."""
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4))
    for idx, (label, ds) in enumerate(runs.items()):
        style = dict(marker="o", label=label, color=f"C{idx}")
        ax1.plot(ds.epoch, 100 * ds.test_accuracy, **style)
        ax2.plot(ds.epoch, ds.train_loss, **style)
        if float(ds.a_norm2.max()) > 0:
            ax3.plot(ds.epoch, ds.hamiltonian, **style)
    ax1.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy")
    ax2.set(xlabel="epoch", ylabel="cross-entropy", title="training loss", yscale="log")
    ax3.set(xlabel="epoch", ylabel="H = E(C) + k |A|^2", title="Hamiltonian (SHD, Tiki-Taka)")
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.lines:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return Path(path)
