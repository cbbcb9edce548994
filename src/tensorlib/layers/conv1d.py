"""Conv1D (NWC, kernel ``(k, in, out)``) and the 1-D pooling layers: the 2-D kernels with
H = 1 (see tensorlib.conv_ops)."""
import numpy as np

from .. import activations
from ..backend._shapes import out_size_and_pad
from ..conv_ops import avg_pool1d, causal_left_pad, conv1d, max_pool1d
from ..functional import conv2d_array
from .base import MAX_DIM, Layer, check_rank, conv_tuple
from .conv import _GlobalPooling2D
from .core import Activated, _init_name


def check_filters(value, name="filters"):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) \
            or not 1 <= value <= MAX_DIM:
        raise ValueError(f"Invalid value for argument `{name}`. Expected a strictly "
                         f"positive value up to {MAX_DIM}. Received {name}={value!r}")
    return int(value)


def check_channels_last(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError("tensorlib supports data_format='channels_last' only. "
                         f"Received: data_format={data_format!r}")


def padding_of(padding, allowed=("valid", "same")):
    """Keras's padding names, lower-cased; a ValueError listing ``allowed`` otherwise."""
    p = padding.lower() if isinstance(padding, str) else padding
    if p not in allowed:
        raise ValueError(f"The `padding` argument must be one of {set(allowed)}. "
                         f"Received: padding={padding!r}")
    return p


def check_strides_dilation(strides, dilation_rate):
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError("`strides > 1` not supported in conjunction with `dilation_rate > "
                         f"1`. Received: strides={strides} and dilation_rate={dilation_rate}")


def steps_out(layer, n, k, s, d, padding):
    """Output length of one axis (``None`` stays unknown); an error when it is empty."""
    if n is None:
        return None
    if padding == "causal":
        n, padding = n + causal_left_pad(k, d), "valid"
    out = out_size_and_pad(n, k, s, d, padding)[0]
    if out < 1:
        raise ValueError(f"Layer {layer.name!r}: the window {k} (dilation {d}) does not fit "
                         f"in the input of length {n}. Received: padding={padding!r}")
    return out


class Conv1D(Activated):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 **kwargs):
        super().__init__(**kwargs)
        self._set_regularizers(kernel_regularizer, bias_regularizer, activity_regularizer)
        self.filters = check_filters(filters)
        check_channels_last(data_format)
        if groups != 1:
            raise ValueError(f"Conv1D: tensorlib supports groups=1 only. Received: "
                             f"groups={groups!r}")
        self.kernel_size = conv_tuple(kernel_size, 1, "kernel_size", "Conv1D")
        self.strides = conv_tuple(strides, 1, "strides", "Conv1D")
        self.dilation_rate = conv_tuple(dilation_rate, 1, "dilation_rate", "Conv1D")
        self.padding = padding_of(padding, ("valid", "same", "causal"))
        check_strides_dilation(self.strides, self.dilation_rate)
        self.use_bias = use_bias
        self._set_activation(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        check_rank(self, input_shape, 3, "batch, steps, channels")
        self.compute_output_shape(input_shape)
        shape = self.kernel_size + (input_shape[-1], self.filters)
        self.kernel = self.add_weight(shape, self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer) \
            if self.use_bias else None

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 3, "batch, steps, channels")
        steps = steps_out(self, input_shape[1], self.kernel_size[0], self.strides[0],
                          self.dilation_rate[0], self.padding)
        return (input_shape[0], steps, self.filters)

    def call(self, x, training=False):
        fuse = self.activation is activations.relu
        y = conv1d(x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate,
                   activation="relu" if fuse else None)
        return self._activity(y if fuse else self.activation(y))

    def _array_fn(self, input_shape):
        """Planned inference: the same backend conv as ``call``, on arrays."""
        relu = self.activation is activations.relu
        post = self._array_activation(fused_relu=True)
        (k,), (s,), (d,) = self.kernel_size, self.strides, self.dilation_rate
        left = causal_left_pad(k, d) if self.padding == "causal" else 0
        padding = "valid" if left or self.padding == "causal" else self.padding

        def conv(a):
            if left:
                a = np.concatenate([np.zeros((a.shape[0], left) + a.shape[2:], a.dtype), a], 1)
            b = None if self.bias is None else self.bias.data
            y = conv2d_array(a[:, None], self.kernel.data[None], b, (1, s), padding, (1, d),
                             relu)[:, 0]
            return y if post is None else post(y)
        return conv

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": "channels_last",
                "dilation_rate": list(self.dilation_rate), "groups": 1,
                "activation": self.activation_name, "use_bias": self.use_bias,
                "kernel_initializer": _init_name(self.kernel_initializer),
                "bias_initializer": _init_name(self.bias_initializer),
                **self._regularizer_config()}


class _Pooling1D(Layer):
    _op = None

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        check_channels_last(data_format)
        cls = type(self).__name__
        self.pool_size = conv_tuple(pool_size, 1, "pool_size", cls)
        self.strides = self.pool_size if strides is None else \
            conv_tuple(strides, 1, "strides", cls)
        self.padding = padding_of(padding)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 3, "batch, steps, channels")
        steps = steps_out(self, input_shape[1], self.pool_size[0], self.strides[0], 1,
                          self.padding)
        return (input_shape[0], steps, input_shape[2])

    def call(self, x, training=False):
        return type(self)._op(x, self.pool_size, self.strides, self.padding)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "padding": self.padding, "strides": list(self.strides),
                "data_format": "channels_last"}


class MaxPooling1D(_Pooling1D):
    _op = staticmethod(max_pool1d)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling1D):
    """Keras 3's ``AveragePooling1D``: ``pool_size`` has no default there either."""
    _op = staticmethod(avg_pool1d)


class _GlobalPooling1D(_GlobalPooling2D):
    """A reduction over the steps axis (1 for channels_last, 2 for channels_first)."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self._axes = (1,) if self.data_format == "channels_last" else (2,)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 3, "batch, steps, features" if
                   self.data_format == "channels_last" else "batch, features, steps")
        if self.keepdims:
            return tuple(1 if i in self._axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in self._axes)


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over the steps."""

    def call(self, x, training=False):
        return x.mean(axis=self._axes, keepdims=self.keepdims)


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Max over the steps (the gradient goes to the first maximum, as Tensor.max)."""

    def call(self, x, training=False):
        return x.max(axis=self._axes, keepdims=self.keepdims)
