"""DepthwiseConv2D (kernel ``(kh, kw, C, m)``) and SeparableConv2D (that, then a 1x1 conv
with kernel ``(1, 1, C * m, filters)``), NHWC, Keras's weights and defaults."""
from .. import activations, regularizers
from ..backend._shapes import conv_output_shape, normalize_padding
from ..conv_ops import depthwise_conv2d
from ..functional import conv2d
from .base import check_rank, conv_tuple
from .conv1d import check_channels_last, check_filters
from .core import Activated, _init_name


class _DepthwiseBase(Activated):
    """Arguments, the depthwise kernel and the output shape shared by both layers."""

    def _set_conv_args(self, kernel_size, strides, padding, data_format, dilation_rate,
                       depth_multiplier, use_bias, activation):
        cls = type(self).__name__
        check_channels_last(data_format)
        self.depth_multiplier = check_filters(depth_multiplier, "depth_multiplier")
        self.kernel_size = conv_tuple(kernel_size, 2, "kernel_size", cls)
        self.strides = conv_tuple(strides, 2, "strides", cls)
        self.dilation_rate = conv_tuple(dilation_rate, 2, "dilation_rate", cls)
        self.padding = normalize_padding(padding)
        self.use_bias = use_bias
        self._set_activation(activation)

    def _out_shape(self, input_shape, channels):
        check_rank(self, input_shape, 4, "batch, height, width, channels")
        if None in input_shape[1:3]:
            return (input_shape[0], None, None, channels)
        shape = conv_output_shape((0,) + tuple(input_shape[1:]), self.kernel_size + (
            input_shape[-1], channels), self.strides, self.padding, self.dilation_rate)
        if min(shape[1:3]) < 1:
            raise ValueError(f"Layer {self.name!r}: the kernel {self.kernel_size} does not fit "
                             f"in the input. Received: input_shape={tuple(input_shape)}")
        return (input_shape[0],) + shape[1:]

    def _array_fn(self, input_shape):
        return None         # planned inference runs ``call``

    def _common_config(self):
        return {"kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": "channels_last",
                "dilation_rate": list(self.dilation_rate),
                "activation": self.activation_name, "use_bias": self.use_bias}


class DepthwiseConv2D(_DepthwiseBase):
    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self._set_regularizers(None, bias_regularizer, activity_regularizer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self._set_conv_args(kernel_size, strides, padding, data_format, dilation_rate,
                            depth_multiplier, use_bias, activation)
        self.depthwise_initializer, self.bias_initializer = \
            depthwise_initializer, bias_initializer

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        c = input_shape[-1]
        self.kernel = self.add_weight(self.kernel_size + (c, self.depth_multiplier),
                                      self.depthwise_initializer, name="kernel",
                                      regularizer=self.depthwise_regularizer)
        self.bias = self.add_weight((c * self.depth_multiplier,), self.bias_initializer,
                                    name="bias", regularizer=self.bias_regularizer) \
            if self.use_bias else None

    def compute_output_shape(self, input_shape):
        return self._out_shape(input_shape, input_shape[-1] * self.depth_multiplier)

    def call(self, x, training=False):
        y = depthwise_conv2d(x, self.kernel, self.bias, self.strides, self.padding,
                             self.dilation_rate)
        return self._activity(self.activation(y))

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier,
                **self._common_config(),
                "depthwise_initializer": _init_name(self.depthwise_initializer),
                "bias_initializer": _init_name(self.bias_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer)}


class SeparableConv2D(_DepthwiseBase):
    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1), depth_multiplier=1,
                 activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self._set_regularizers(None, bias_regularizer, activity_regularizer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.filters = check_filters(filters)
        self._set_conv_args(kernel_size, strides, padding, data_format, dilation_rate,
                            depth_multiplier, use_bias, activation)
        self.depthwise_initializer = depthwise_initializer
        self.pointwise_initializer = pointwise_initializer
        self.bias_initializer = bias_initializer

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        c, m = input_shape[-1], self.depth_multiplier
        self.depthwise_kernel = self.add_weight(
            self.kernel_size + (c, m), self.depthwise_initializer, name="depthwise_kernel",
            regularizer=self.depthwise_regularizer)
        self.pointwise_kernel = self.add_weight(
            (1, 1, c * m, self.filters), self.pointwise_initializer,
            name="pointwise_kernel", regularizer=self.pointwise_regularizer)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer) \
            if self.use_bias else None

    def compute_output_shape(self, input_shape):
        return self._out_shape(input_shape, self.filters)

    def call(self, x, training=False):
        fuse = self.activation is activations.relu
        y = depthwise_conv2d(x, self.depthwise_kernel, None, self.strides, self.padding,
                             self.dilation_rate)
        y = conv2d(y, self.pointwise_kernel, self.bias,
                   activation="relu" if fuse else None)
        return self._activity(y if fuse else self.activation(y))

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier,
                "filters": self.filters, **self._common_config(),
                "depthwise_initializer": _init_name(self.depthwise_initializer),
                "pointwise_initializer": _init_name(self.pointwise_initializer),
                "bias_initializer": _init_name(self.bias_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer)}
