"""Conv2DTranspose (NHWC, kernel ``(kh, kw, filters, in)`` as in Keras)."""
from ..backend._shapes import int_tuple, normalize_padding
from ..conv_ops import conv2d_transpose, transpose_axis
from .base import MAX_DIM, check_rank, conv_tuple
from .conv1d import check_channels_last, check_filters, check_strides_dilation
from .core import Activated, _init_name


class Conv2DTranspose(Activated):
    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1),
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self._set_regularizers(kernel_regularizer, bias_regularizer, activity_regularizer)
        self.filters = check_filters(filters)
        check_channels_last(data_format)
        cls = "Conv2DTranspose"
        self.kernel_size = conv_tuple(kernel_size, 2, "kernel_size", cls)
        self.strides = conv_tuple(strides, 2, "strides", cls)
        self.dilation_rate = conv_tuple(dilation_rate, 2, "dilation_rate", cls)
        self.padding = normalize_padding(padding)
        self.output_padding = None if output_padding is None else \
            int_tuple(cls, "output_padding", output_padding, 2, 0, MAX_DIM)
        if self.output_padding is not None:
            for i, (p, s) in enumerate(zip(self.output_padding, self.strides)):
                if p >= s:
                    raise ValueError(
                        "`output_padding` must be strictly less than `strides` for all "
                        f"dimensions. At dimension {i}, `output_padding` is {p} but "
                        f"`strides` is {s}. Received: output_padding={self.output_padding}"
                        f", strides={self.strides}")
        check_strides_dilation(self.strides, self.dilation_rate)
        self.use_bias = use_bias
        self._set_activation(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        check_rank(self, input_shape, 4, "batch, height, width, channels")
        self.compute_output_shape(input_shape)
        shape = self.kernel_size + (self.filters, input_shape[-1])
        self.kernel = self.add_weight(shape, self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer) \
            if self.use_bias else None

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 4, "batch, height, width, channels")
        sizes = []
        for i in range(2):
            n = input_shape[1 + i]
            p = None if self.output_padding is None else self.output_padding[i]
            out = None if n is None else transpose_axis(
                n, self.kernel_size[i], self.strides[i], self.dilation_rate[i],
                self.padding, p)[0]
            if out is not None and out < 1:
                raise ValueError(f"Layer {self.name!r}: the output would be empty. "
                                 f"Received: input_shape={tuple(input_shape)}")
            sizes.append(out)
        return (input_shape[0],) + tuple(sizes) + (self.filters,)

    def call(self, x, training=False):
        y = conv2d_transpose(x, self.kernel, self.bias, self.strides, self.padding,
                             self.output_padding, self.dilation_rate)
        return self._activity(self.activation(y))

    def _array_fn(self, input_shape):
        return None         # planned inference runs ``call``

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding,
                "output_padding": None if self.output_padding is None
                else list(self.output_padding),
                "data_format": "channels_last", "dilation_rate": list(self.dilation_rate),
                "activation": self.activation_name, "use_bias": self.use_bias,
                "kernel_initializer": _init_name(self.kernel_initializer),
                "bias_initializer": _init_name(self.bias_initializer),
                **self._regularizer_config()}
