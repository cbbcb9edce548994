"""Conv2D (NHWC, kernel ``(kh, kw, in, out)``) and 2-D pooling layers."""
import numpy as np

from .. import activations
from ..backend._shapes import conv_output_shape, normalize_padding, pool_output_shape
from ..functional import (avg_pool2d, avg_pool2d_array, conv2d, conv2d_array, max_pool2d,
                          max_pool2d_array)
from .base import MAX_DIM, Layer, check_rank, conv_tuple
from .core import Activated, _init_name


class Conv2D(Activated):
    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self._set_regularizers(kernel_regularizer, bias_regularizer, activity_regularizer)
        self._set_constraints(kernel_constraint, bias_constraint)
        if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) \
                or not 1 <= filters <= MAX_DIM:
            raise ValueError("Invalid value for argument `filters`. Expected a strictly "
                             f"positive value up to {MAX_DIM}. Received filters={filters!r}")
        if data_format not in (None, "channels_last"):
            raise ValueError("tensorlib supports data_format='channels_last' only. "
                             f"Received: data_format={data_format!r}")
        self.filters = int(filters)
        self.kernel_size = conv_tuple(kernel_size, 2, "kernel_size", "Conv2D")
        self.strides = conv_tuple(strides, 2, "strides", "Conv2D")
        self.dilation_rate = conv_tuple(dilation_rate, 2, "dilation_rate", "Conv2D")
        self.padding = normalize_padding(padding)
        self.use_bias = use_bias
        self._set_activation(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        check_rank(self, input_shape, 4, "batch, height, width, channels")
        shape = self.kernel_size + (input_shape[-1], self.filters)
        self.kernel = self.add_weight(shape, self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) \
            if self.use_bias else None

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 4, "batch, height, width, channels")
        shape = conv_output_shape((0,) + tuple(input_shape[1:]),
                                  self.kernel_size + (input_shape[-1], self.filters),
                                  self.strides, self.padding, self.dilation_rate)
        if min(shape[1:3]) < 1:
            raise ValueError(f"Layer {self.name!r}: the kernel {self.kernel_size} does not fit "
                             f"in the input. Received: input_shape={tuple(input_shape)}")
        return (input_shape[0],) + shape[1:]

    def call(self, x, training=False):
        fuse = self.activation is activations.relu
        y = conv2d(x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate,
                   activation="relu" if fuse else None)
        return self._activity(y if fuse else self.activation(y))

    def _array_fn(self, input_shape):
        relu = self.activation is activations.relu
        post = self._array_activation(fused_relu=True)
        args = (self.strides, self.padding, self.dilation_rate, relu)

        def conv(a):
            y = conv2d_array(a, self.kernel.data,
                             None if self.bias is None else self.bias.data, *args)
            return y if post is None else post(y)
        return conv

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "dilation_rate": list(self.dilation_rate),
                "activation": self.activation_name, "use_bias": self.use_bias,
                "kernel_initializer": _init_name(self.kernel_initializer),
                "bias_initializer": _init_name(self.bias_initializer),
                **self._regularizer_config(), **self._constraint_config()}


class _Pooling2D(Layer):
    _op = None

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError("tensorlib supports data_format='channels_last' only. "
                             f"Received: data_format={data_format!r}")
        cls = type(self).__name__
        self.pool_size = conv_tuple(pool_size, 2, "pool_size", cls)
        self.strides = self.pool_size if strides is None else \
            conv_tuple(strides, 2, "strides", cls)
        self.padding = normalize_padding(padding)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 4, "batch, height, width, channels")
        shape = pool_output_shape((0,) + tuple(input_shape[1:]), self.pool_size,
                                  self.strides, self.padding)
        if min(shape[1:3]) < 1:
            raise ValueError(f"Layer {self.name!r}: the pool size {self.pool_size} does not "
                             f"fit in the input. Received: input_shape={tuple(input_shape)}")
        return (input_shape[0],) + shape[1:]

    def call(self, x, training=False):
        return type(self)._op(x, self.pool_size, self.strides, self.padding)

    def _inference_fn(self, input_shape):
        op, args = type(self)._array_op, (self.pool_size, self.strides, self.padding)
        return lambda a: op(a, *args)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}


class MaxPooling2D(_Pooling2D):
    _op = staticmethod(max_pool2d)
    _array_op = staticmethod(max_pool2d_array)


class AveragePooling2D(_Pooling2D):
    _op = staticmethod(avg_pool2d)
    _array_op = staticmethod(avg_pool2d_array)


class _GlobalPooling2D(Layer):
    """A reduction over the spatial axes; ``data_format`` says where they are (as in
    Keras)."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError("The `data_format` argument must be one of 'channels_first', "
                             f"'channels_last'. Received: data_format={data_format!r}")
        self.data_format = data_format or "channels_last"
        self.keepdims = bool(keepdims)
        self._axes = (1, 2) if self.data_format == "channels_last" else (2, 3)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 4, "batch, height, width, channels" if
                   self.data_format == "channels_last" else "batch, channels, height, width")
        if self.keepdims:
            return tuple(1 if i in self._axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in self._axes)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over the spatial axes."""

    def call(self, x, training=False):
        return x.mean(axis=self._axes, keepdims=self.keepdims)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over the spatial axes (the gradient goes to the first maximum, as Tensor.max)."""

    def call(self, x, training=False):
        return x.max(axis=self._axes, keepdims=self.keepdims)
