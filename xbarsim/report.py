"""Plain-text tables for the terminal."""

from __future__ import annotations


def table(headers, rows) -> str:
    """Left-aligned text table with a rule under the header."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_row(result) -> list:
    """(algorithm, device, circuit, test accuracy, wall time) of a training result."""
    cfg = result.config
    digital = cfg.algorithm.name == "fp"
    return [cfg.algorithm.name, "-" if digital else cfg.device.name, "digital" if digital else cfg.circuit,
            f"{100 * result.history['test_accuracy'][-1]:.2f} %",
            f"{result.wall_time_s:.1f} s"]


RUN_HEADERS = ("algorithm", "device", "circuit", "test accuracy", "wall time")
