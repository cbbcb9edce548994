"""``keras.config``: the global settings Keras 3 code reads and sets.

tensorlib computes channels-last, in float32 or float64, and is its own backend; the
settings that ask for something else are refused with a clear error. ``floatx`` is the
default dtype of new layers; ``max_epochs`` and ``max_steps_per_epoch`` cap ``fit`` as
in Keras; ``epsilon`` is the fuzz factor ``keras.backend.epsilon()`` reports. Unsafe
deserialization, traceback filtering, interactive logging and flash attention are flags
with nothing behind them (tensorlib never runs code from a file, filters no tracebacks
and has no attention kernels), kept so that code setting them runs.
"""

_FLOATS = ("float32", "float64")
_state = {"floatx": "float32", "epsilon": 1e-7, "traceback_filtering": True,
          "interactive_logging": True, "unsafe_deserialization": False,
          "flash_attention": None, "max_epochs": None, "max_steps_per_epoch": None}


def backend():
    """The backend's name: ``"tensorlib"``."""
    return "tensorlib"


def set_backend(backend):
    raise ValueError("set_backend: tensorlib is its own Keras backend and cannot switch to "
                     "another one (import keras itself for that). Received: "
                     f"backend={backend!r}")


def floatx():
    return _state["floatx"]


def set_floatx(value):
    """The default dtype of new layers and weights: ``"float32"`` or ``"float64"``."""
    if value not in _FLOATS:
        raise ValueError(f"set_floatx: unknown `floatx` value; tensorlib computes in "
                         f"{_FLOATS}. Received: value={value!r}")
    _state["floatx"] = value


def epsilon():
    return _state["epsilon"]


def set_epsilon(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"set_epsilon: epsilon must be a positive number. Received: "
                         f"value={value!r}")
    _state["epsilon"] = float(value)


def image_data_format():
    return "channels_last"


def set_image_data_format(data_format):
    if str(data_format).lower() != "channels_last":
        raise ValueError("set_image_data_format: tensorlib computes channels_last (NHWC) "
                         "only; the value must be 'channels_last'. Received: "
                         f"data_format={data_format!r}")


def dtype_policy():
    """The global dtype policy's name (tensorlib has no mixed precision)."""
    return _state["floatx"]


def set_dtype_policy(policy):
    name = getattr(policy, "name", policy)
    if name not in _FLOATS:
        raise ValueError(f"set_dtype_policy: tensorlib supports the policies {_FLOATS} (no "
                         f"mixed precision). Received: policy={policy!r}")
    set_floatx(name)


def enable_unsafe_deserialization():
    """A flag: tensorlib never runs code from a file (it has no ``Lambda`` to load)."""
    _state["unsafe_deserialization"] = True


def unsafe_deserialization_enabled():
    return _state["unsafe_deserialization"]


def _flag(name, value):
    _state[name] = value


def enable_traceback_filtering():
    _flag("traceback_filtering", True)


def disable_traceback_filtering():
    _flag("traceback_filtering", False)


def is_traceback_filtering_enabled():
    return _state["traceback_filtering"]


def enable_interactive_logging():
    _flag("interactive_logging", True)


def disable_interactive_logging():
    _flag("interactive_logging", False)


def is_interactive_logging_enabled():
    return _state["interactive_logging"]


def enable_flash_attention():
    _flag("flash_attention", True)


def disable_flash_attention():
    _flag("flash_attention", False)


def is_flash_attention_enabled():
    return _state["flash_attention"]


def _positive_or_none(func, name, value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise ValueError(f"{func}: `{name}` must be a positive integer or None. Received: "
                         f"{name}={value!r}")
    _state[name] = value


def max_epochs():
    return _state["max_epochs"]


def set_max_epochs(max_epochs):
    """Cap the number of epochs of every ``fit`` (None: no cap)."""
    _positive_or_none("set_max_epochs", "max_epochs", max_epochs)


def max_steps_per_epoch():
    return _state["max_steps_per_epoch"]


def set_max_steps_per_epoch(max_steps_per_epoch):
    """Cap the number of steps of every epoch of ``fit`` (None: no cap)."""
    _positive_or_none("set_max_steps_per_epoch", "max_steps_per_epoch",
                      max_steps_per_epoch)
