"""Custom classes a Keras file may name: ``register_keras_serializable``, ``custom_objects``.

As in Keras 3, a class registered with ``@register_keras_serializable(package="my_pkg")``
is known as ``"my_pkg>ClassName"`` (``name=`` replaces the class name); a saved layer of
that class stores the name as its ``"registered_name"``. Loading looks a name up in the
``custom_objects`` given to ``load_model``, then in the open ``custom_object_scope``s
(innermost first), then in the global registry (``get_custom_objects()``), by registered
name and then by plain class name. A file can only select among the classes found this
way: it never names a module to import.
"""
import contextlib

_GLOBAL_OBJECTS = {}        # registered name -> class
_GLOBAL_NAMES = {}          # class -> registered name
_SCOPES = []                # dicts of open custom_object_scope blocks, innermost last


def register_keras_serializable(package="Custom", name=None):
    """A decorator registering a class (or function) as ``"<package>><name>"``."""
    if not isinstance(package, str) or not package or ">" in package:
        raise ValueError("register_keras_serializable: package must be a non-empty string "
                         f"without '>'. Received: package={package!r}")
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError("register_keras_serializable: name must be a non-empty string or "
                         f"None. Received: name={name!r}")

    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered = f"{package}>{class_name}"
        if isinstance(arg, type) and not hasattr(arg, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() "
                             f"method. Received: {arg!r}")
        if registered in _GLOBAL_OBJECTS and _GLOBAL_OBJECTS[registered] is not arg:
            raise ValueError(f"{registered} has already been registered to "
                             f"{_GLOBAL_OBJECTS[registered]}. Received: {arg!r}")
        if arg in _GLOBAL_NAMES and _GLOBAL_NAMES[arg] != registered:
            raise ValueError(f"{arg} has already been registered to {_GLOBAL_NAMES[arg]}. "
                             f"Received: package={package!r}, name={name!r}")
        _GLOBAL_OBJECTS[registered] = arg
        _GLOBAL_NAMES[arg] = registered
        return arg
    return decorator


def get_custom_objects():
    """The global registry, a dict of registered name -> object (editable, as in Keras)."""
    return _GLOBAL_OBJECTS


def get_registered_name(obj):
    """``"package>name"`` for a registered object, else its ``__name__``."""
    if obj in _GLOBAL_NAMES:
        return _GLOBAL_NAMES[obj]
    return obj.__name__


def _tables(custom_objects):
    return [custom_objects or {}] + _SCOPES[::-1] + [_GLOBAL_OBJECTS]


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object known as ``name``, or None: ``custom_objects``, the open scopes, the
    global registry, then ``module_objects``."""
    for table in _tables(custom_objects) + [module_objects or {}]:
        if name in table:
            return table[name]
    return None


def find_class(registered_name, class_name, custom_objects=None):
    """The class a Keras record names: the first table (``custom_objects``, scopes, the
    registry) holding its registered name or its class name."""
    for table in _tables(custom_objects):
        for key in (registered_name, class_name):
            if isinstance(key, str) and key in table:
                return table[key]
    return None


class CustomObjectScope(contextlib.ContextDecorator):
    """``with custom_object_scope({"MyLayer": MyLayer}): load_model(...)``"""

    def __init__(self, custom_objects):
        if not isinstance(custom_objects, dict):
            raise TypeError("custom_object_scope: custom_objects must be a dict of name -> "
                            f"object. Received: {type(custom_objects).__name__}")
        self.custom_objects = dict(custom_objects)

    def __enter__(self):
        _SCOPES.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        for i in range(len(_SCOPES) - 1, -1, -1):
            if _SCOPES[i] is self.custom_objects:
                del _SCOPES[i]
                break
        return False


custom_object_scope = CustomObjectScope
