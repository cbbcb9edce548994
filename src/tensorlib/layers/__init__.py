"""Keras-compatible layers (NHWC, Keras weight layouts and defaults)."""
from .base import Layer
from .core import Input, InputLayer, Dense, Activation, Flatten, Reshape, Dropout, Softmax
from .conv import (Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
                   GlobalMaxPooling2D)
from .normalization import BatchNormalization
from .merge import (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot,
                    add, subtract, multiply, average, maximum, minimum, concatenate, dot)

MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D
GlobalMaxPool2D, GlobalAvgPool2D = GlobalMaxPooling2D, GlobalAveragePooling2D

LAYER_CLASSES = {cls.__name__: cls for cls in (
    InputLayer, Dense, Activation, Flatten, Reshape, Dropout, Softmax, Conv2D, MaxPooling2D,
    AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, BatchNormalization, Add,
    Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot)}
