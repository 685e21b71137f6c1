"""A multilayer perceptron whose layers are algorithm layers (digital or analog arrays)."""

from __future__ import annotations

import numpy as np

ACTIVATIONS = ("sigmoid", "relu")


def _act(z, kind):
    if kind == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic
    return np.maximum(z, 0.0)


def _act_grad(a, kind):
    """Derivative of the activation, from its output ``a``."""
    if kind == "sigmoid":
        return a * (1.0 - a)
    return (a > 0).astype(a.dtype)


def softmax_xent(logits, labels):
    """Per-sample cross-entropy and its gradient with respect to the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    n = np.arange(len(labels))
    loss = -np.log(np.maximum(p[n, labels], 1e-300))
    grad = p
    grad[n, labels] -= 1.0
    return loss, grad


class MLP:
    """layers[k] maps activations of width sizes[k] to sizes[k+1]; hidden activation ``activation``,
    softmax cross-entropy at the output."""

    def __init__(self, layers, activation: str = "sigmoid"):
        self.layers = layers
        self.activation = activation

    def forward(self, x, rng):
        """Logits and the activations of every layer's input (for the backward pass)."""
        acts = [x]
        for k, layer in enumerate(self.layers):
            z = layer.forward(acts[-1], rng)
            if k < len(self.layers) - 1:
                z = _act(z, self.activation)
                acts.append(z)
        return z, acts

    def train_step(self, x, labels, rng):
        """Forward, backward and update for one mini-batch; returns the per-sample losses and predictions."""
        logits, acts = self.forward(x, rng)
        loss, d = softmax_xent(logits, labels)
        deltas = [d]
        for k in range(len(self.layers) - 1, 0, -1):
            d = self.layers[k].backward(d, rng) * _act_grad(acts[k], self.activation)
            deltas.insert(0, d)
        for layer, a, d in zip(self.layers, acts, deltas):
            layer.update(a, d, rng)
        return loss, logits.argmax(axis=1)
