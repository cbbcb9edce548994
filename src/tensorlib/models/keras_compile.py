"""Keras 3's ``compile_config`` <-> a tensorlib model's compile settings (optimizer, loss,
metrics), built-in objects only: names pass through, objects are rebuilt by tensorlib's
registries from their ``class_name`` and ``config``."""
import warnings

from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers as optimizers_mod
from .. import schedules
from .keras_config import ConfigError, _short


def _keras_object(module, obj):
    config = {k: v for k, v in obj.get_config().items() if k != "dtype" or v is not None}
    return {"module": module, "class_name": type(obj).__name__, "config": config,
            "registered_name": None}


def compile_to_keras(model):
    """Keras's ``compile_config`` for ``model`` ({} when uncompiled). Parts Keras could not
    rebuild (a custom loss, a schedule, a custom metric) are left out with a warning."""
    if not getattr(model, "compiled", False):
        return {}
    opt, loss = model.optimizer, model.loss
    if callable(opt._learning_rate) and \
            type(opt._learning_rate) not in schedules.ALL_OBJECTS.values():
        warnings.warn(f"save: the optimizer's learning rate is a function, which the Keras "
                      f"format cannot hold; the model is saved without its compile "
                      f"settings. Received: learning_rate={opt._learning_rate!r}")
        return {}
    given = (getattr(model, "compile_config", None) or {}).get("loss")
    if isinstance(given, str):
        loss_record = given
    elif type(loss) in losses_mod.ALL_OBJECTS:
        loss_record = _keras_object("keras.losses", loss)
    else:
        warnings.warn(f"save: the loss {loss!r} is not a built-in Keras loss; the model is "
                      f"saved without its compile settings. Received: loss={loss!r}")
        return {}
    return {"optimizer": _keras_object("keras.optimizers", opt), "loss": loss_record,
            "loss_weights": None, "metrics": metric_records(model),
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


def metric_records(model, module="keras.metrics"):
    """The compiled metrics as names and built-in metric objects (dicts)."""
    ids = getattr(model, "_metric_ids", None)
    if isinstance(ids, list) and ids and all(isinstance(i, list) for i in ids):
        ids = ids[0] if len(ids) == 1 else None         # per output; one output here
    if ids is None:
        ids = (getattr(model, "compile_config", None) or {}).get("metrics") or []
    out = []
    for m in ids:
        if isinstance(m, str):
            out.append(m)
        elif isinstance(m, dict):
            out.append(m)
        elif type(m) in metrics_mod.ALL_OBJECTS:
            out.append(_keras_object(module, m))
        else:
            warnings.warn(f"save: the metric {m!r} is not a built-in metric and is not "
                          f"saved. Received: metric={m!r}")
    return out


def compile_from_keras(model, cc):
    """Compile ``model`` as Keras's ``compile_config`` says ({} or None: leave it)."""
    if cc is None or cc == {}:
        return
    if not isinstance(cc, dict):
        raise ConfigError(f"compile_config must be an object. Received: {_short(cc)}")
    for key in ("loss_weights", "weighted_metrics"):
        if cc.get(key) is not None:
            raise ConfigError(f"compile_config uses {key}, which tensorlib does not support; "
                              f"load with compile=False. Received: {key}={_short(cc[key])}")
    metrics = cc.get("metrics")
    if metrics is not None and not (isinstance(metrics, list) and all(
            isinstance(m, (str, dict)) for m in metrics)):
        raise ConfigError("compile_config.metrics must be a list of names and objects. "
                          f"Received: metrics={_short(metrics)}")
    optimizer, loss = cc.get("optimizer"), cc.get("loss")
    try:
        optimizer = optimizers_mod.get(_plain(optimizer, "optimizer"))
        loss = _plain(loss, "loss")
        metrics = [metrics_mod.get(_plain(m, "metric")) if isinstance(m, dict) else m
                   for m in metrics or []]
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics or None)
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - unknown names, bad configs
        raise ConfigError(f"compile_config cannot be applied ({type(e).__name__}: "
                          f"{str(e)[:200]}); load with compile=False to skip it. Received: "
                          f"compile_config={_short(cc, 300)}") from None


def _plain(value, what):
    """A Keras ``{"module", "class_name", "config", "registered_name"}`` record as the
    ``{"class_name", "config"}`` dict tensorlib's registries take; names pass through."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or not isinstance(value.get("class_name"), str):
        raise ConfigError(f"compile_config has a {what} that is neither a name nor an object "
                          f"with a class_name. Received: {what}={_short(value)}")
    if value.get("registered_name") not in (None, value["class_name"]):
        raise ConfigError(f"compile_config has a custom {what}; tensorlib loads built-in "
                          f"ones only. Received: registered_name="
                          f"{_short(value['registered_name'])}")
    config = value.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(f"compile_config has a {what} whose config is not an object. "
                          f"Received: config={_short(config)}")
    return {"class_name": value["class_name"], "config": dict(config)}
