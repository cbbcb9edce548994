"""Keras-compatible layers (NHWC, Keras weight layouts and defaults)."""
from .base import Layer
from .core import Input, InputLayer, Dense, Activation, Flatten, Reshape, Dropout, Softmax
from .conv import (Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
                   GlobalMaxPooling2D)
from .normalization import BatchNormalization
from .merge import (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot,
                    add, subtract, multiply, average, maximum, minimum, concatenate, dot)
from .conv1d import (Conv1D, MaxPooling1D, AveragePooling1D, GlobalAveragePooling1D,
                     GlobalMaxPooling1D)
from .conv_transpose import Conv2DTranspose
from .depthwise import DepthwiseConv2D, SeparableConv2D
from .activation_layers import ReLU, LeakyReLU, ELU, PReLU
from .reshaping import ZeroPadding2D, Cropping2D, UpSampling2D, Permute, RepeatVector
from .noise import GaussianNoise, SpatialDropout2D
from .layer_normalization import LayerNormalization
from .preprocessing import Rescaling, Normalization
from .embedding import Embedding
from .masking import Masking
from .recurrent import SimpleRNN, LSTM, GRU
from .bidirectional import Bidirectional
from .rnn_cells import RNN, SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells

MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D
GlobalMaxPool2D, GlobalAvgPool2D = GlobalMaxPooling2D, GlobalAveragePooling2D

LAYER_CLASSES = {cls.__name__: cls for cls in (
    InputLayer, Dense, Activation, Flatten, Reshape, Dropout, Softmax, Conv2D, MaxPooling2D,
    AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, BatchNormalization, Add,
    Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot)}
LAYER_CLASSES.update({cls.__name__: cls for cls in (
    Conv1D, MaxPooling1D, AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D,
    Conv2DTranspose, DepthwiseConv2D, SeparableConv2D)})
MaxPool1D, AvgPool1D = MaxPooling1D, AveragePooling1D
GlobalMaxPool1D, GlobalAvgPool1D = GlobalMaxPooling1D, GlobalAveragePooling1D

LAYER_CLASSES.update({cls.__name__: cls for cls in (
    Embedding, Masking, SimpleRNN, LSTM, GRU, Bidirectional)})
LAYER_CLASSES.update({cls.__name__: cls for cls in (
    RNN, SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells)})
for _cls in (Dense, Activation, Dropout):      # Keras's layers that pass masks on unchanged
    _cls.supports_masking = True

from .augmentation import (RandomFlip, RandomRotation, RandomZoom,  # noqa: E402
                           RandomTranslation, RandomContrast)

LAYER_CLASSES.update({cls.__name__: cls for cls in (
    RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast)})

LAYER_CLASSES.update({cls.__name__: cls for cls in (
    ReLU, LeakyReLU, ELU, PReLU, ZeroPadding2D, Cropping2D, UpSampling2D, Permute,
    RepeatVector, GaussianNoise, SpatialDropout2D, LayerNormalization, Rescaling,
    Normalization)})
