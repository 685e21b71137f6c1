"""Analog tiles, training algorithms (FP, analog SGD, Tiki-Taka, SHD), the MLP, MNIST and the loop."""

from .algorithms import ALGORITHMS, AlgorithmConfig, make_layer
from .datasets import DataFileError, Dataset, load_mnist
from .loop import CIRCUITS, TrainConfig, TrainResult, evaluate, train
from .network import MLP
from .tile import AnalogArray, Periphery, UpdateConfig, pulse_counts

__all__ = [
    "ALGORITHMS", "AlgorithmConfig", "AnalogArray", "CIRCUITS", "DataFileError", "Dataset", "MLP", "Periphery",
    "TrainConfig", "TrainResult", "UpdateConfig", "evaluate", "load_mnist", "make_layer", "pulse_counts", "train",
]
