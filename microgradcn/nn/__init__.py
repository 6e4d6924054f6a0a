"""Neural networks built from `Value`s: neurons, layers, MLPs, convolutions, pooling, normalisation, a small GPT.

Everything here is ordinary Python on top of the engine: a `Neuron` is a list
of weight Values and a bias Value, its output is a Value expression, and
`backward()` on a loss fills every weight's `.grad`. Nothing is vectorised, so
every multiplication can be seen in the computation graph.

>>> from microgradcn.nn import MLP
>>> model = MLP(2, [4, 1], seed=0)
>>> y = model([1.0, -2.0])       # one output neuron -> a single Value
>>> y.backward()
>>> len(model.parameters())
17
"""

from ..serialization import load, save
from ._nested import as_values
from .activation import LeakyReLU, Maxout, ReLU, RReLU, Sigmoid, Tanh
from .conv import AvgPool2d, Conv2d, Flatten, MaxPool2d
from .linear import Linear, Sequential
from .mlp import ACTIVATIONS, MLP, Layer, Neuron
from .module import Module
from .normalization import LayerNorm
from .regularization import BatchNorm, Dropout, PReLU
from .transformer import GPT, Block, CausalSelfAttention, Embedding, KVCache, MLPBlock, RMSNorm, embed, nll

__all__ = [
    "Module",
    "Neuron",
    "Layer",
    "MLP",
    "Linear",
    "Sequential",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "Flatten",
    "ReLU",
    "Tanh",
    "Sigmoid",
    "LeakyReLU",
    "RReLU",
    "Maxout",
    "PReLU",
    "Dropout",
    "BatchNorm",
    "Embedding",
    "RMSNorm",
    "KVCache",
    "CausalSelfAttention",
    "MLPBlock",
    "Block",
    "GPT",
    "embed",
    "nll",
    "LayerNorm",
    "as_values",
    "ACTIVATIONS",
    "save",
    "load",
]
