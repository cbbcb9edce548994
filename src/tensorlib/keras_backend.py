"""``keras.backend``: the Keras functions CPU training code calls. ``import tensorlib``
publishes them onto ``tensorlib.backend`` (the kernel-backend package, whose
``set_backend``/``get_backend`` stay as they are)."""
from . import config, graph


def clear_session():
    """Keras's ``clear_session``: reset the automatic layer, model and tensor names (the
    next Dense is ``dense`` again)."""
    from .layers import base as _layer_base
    _layer_base._name_counts.clear()
    graph.SymbolicTensor._count = 0


def image_data_format():
    """Always ``"channels_last"``: tensorlib computes in NHWC, as Keras does by default."""
    return "channels_last"


floatx, epsilon, set_floatx, set_epsilon = (config.floatx, config.epsilon, config.set_floatx,
                                            config.set_epsilon)


def backend():
    """The name Keras's ``backend.backend()`` reports: here ``"tensorlib"``."""
    return "tensorlib"


__all__ = ["clear_session", "image_data_format", "floatx", "epsilon", "backend",
           "set_floatx", "set_epsilon"]
