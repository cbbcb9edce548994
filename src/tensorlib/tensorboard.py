"""``keras.callbacks.TensorBoard``: training logs as TensorBoard event files.

As Keras writes them: ``<log_dir>/train`` holds ``epoch_<name>`` scalars of the training
logs (``epoch_learning_rate`` too) and, every ``histogram_freq`` epochs, a histogram of
each weight (``<model>/<layer>/<weight>/histogram``); ``<log_dir>/validation`` holds the
``val_`` logs as ``epoch_<name>`` and ``evaluation_<name>_vs_iterations`` after each
evaluation. ``update_freq="batch"`` or an integer N also writes ``batch_<name>`` every
N training batches; ``write_graph`` writes the model's configuration under the tag
``keras`` (TensorBoard's Keras model graph). The files are written with the
``tensorboard`` package's own event writer (``pip install "tensorlib[tensorboard]"``).
"""
import json
import os
import time

import numpy as np

from .callback_base import Callback

__all__ = ["TensorBoard"]


def _tensorboard():
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2
        from tensorboard.compat.proto.histogram_pb2 import HistogramProto
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        raise ImportError("TensorBoard needs the `tensorboard` package to write its event "
                          'files: pip install "tensorlib[tensorboard]" (or pip install '
                          "tensorboard).") from None
    return event_pb2, summary_pb2, tensor_pb2, HistogramProto, EventFileWriter


class _Writer:
    """One event file in ``logdir``: scalars, histograms, a text tensor."""

    def __init__(self, logdir):
        (self._event, self._summary, self._tensor, self._histo,
         writer) = _tensorboard()
        self._file = writer(logdir)

    def _add(self, value, step):
        summary = self._summary.Summary(value=[value])
        self._file.add_event(self._event.Event(wall_time=time.time(), step=int(step),
                                               summary=summary))

    def scalar(self, tag, value, step):
        self._add(self._summary.Summary.Value(tag=tag, simple_value=float(value)), step)

    def histogram(self, tag, values, step, buckets=30):
        """TensorBoard's histogram: ``buckets`` equal-width buckets over the range."""
        a = np.asarray(values, np.float64).ravel()
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        counts, edges = np.histogram(a, bins=buckets, range=(lo, hi))
        histo = self._histo(min=float(a.min()) if a.size else 0.0,
                            max=float(a.max()) if a.size else 0.0, num=float(a.size),
                            sum=float(a.sum()), sum_squares=float(np.dot(a, a)),
                            bucket_limit=edges[1:].tolist(),
                            bucket=counts.astype(np.float64).tolist())
        self._add(self._summary.Summary.Value(tag=tag, histo=histo), step)

    def text(self, tag, text, step, plugin):
        tensor = self._tensor.TensorProto(dtype=7, string_val=[text.encode()])   # DT_STRING
        meta = self._summary.SummaryMetadata(
            plugin_data=self._summary.SummaryMetadata.PluginData(plugin_name=plugin,
                                                                 content=b"1"))
        self._add(self._summary.Summary.Value(tag=tag, tensor=tensor, metadata=meta), step)

    def flush(self):
        self._file.flush()

    def close(self):
        self._file.close()


class TensorBoard(Callback):
    """Write the training logs, weight histograms and the model graph for TensorBoard.
    ``write_images``, ``write_steps_per_second``, ``profile_batch`` and the embeddings
    arguments are accepted as Keras's; images, profiles and embeddings are not
    written."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True,
                 write_images=False, write_steps_per_second=False, update_freq="epoch",
                 profile_batch=0, embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        _tensorboard()                       # ImportError now, with the pip command
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or \
                histogram_freq < 0:
            raise ValueError("TensorBoard: `histogram_freq` must be an integer >= 0. "
                             f"Received: histogram_freq={histogram_freq!r}")
        if update_freq not in ("epoch", "batch") and (
                isinstance(update_freq, bool) or not isinstance(update_freq, int)
                or update_freq < 1):
            raise ValueError("TensorBoard: `update_freq` must be 'epoch', 'batch' or a "
                             f"positive integer. Received: update_freq={update_freq!r}")
        if profile_batch:
            raise ValueError("Profiling is not available in tensorlib. Received: "
                             f"profile_batch={profile_batch} (must be 0)")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq, self.write_graph = histogram_freq, write_graph
        self.write_images, self.write_steps_per_second = write_images, write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.embeddings_freq, self.embeddings_metadata = embeddings_freq, embeddings_metadata
        self._writers = {}
        self._global_train_batch = 0
        self._epoch_start = time.time()

    def _writer(self, which):
        if which not in self._writers:
            self._writers[which] = _Writer(os.path.join(self.log_dir, which))
        return self._writers[which]

    def set_model(self, model):
        super().set_model(model)
        self._close()
        if self.write_graph and type(model).__name__ in ("Sequential", "Functional"):
            config = {"class_name": type(model).__name__, "config": model.get_config()}
            self._writer("train").text("keras", json.dumps(config, default=str), 0,
                                       "graph_keras_model")

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()
        self._epoch_batches = 0

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        self._epoch_batches = batch + 1
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        writer = self._writer("train")
        if self.write_steps_per_second:
            writer.scalar("batch_steps_per_second",
                          1.0 / max(time.time() - self._batch_start, 1e-9),
                          self._global_train_batch)
        for name, value in (logs or {}).items():
            writer.scalar(f"batch_{name}", value, self._global_train_batch)

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "iterations"):
            writer = self._writer("validation")
            for name, value in (logs or {}).items():
                writer.scalar(f"evaluation_{name}_vs_iterations", value,
                              optimizer.iterations)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if logs and optimizer is not None:
            train["learning_rate"] = float(np.asarray(optimizer.learning_rate))
        if self.write_steps_per_second and logs:
            train["steps_per_second"] = self._epoch_batches / max(
                time.time() - self._epoch_start, 1e-9)
        for which, values in (("train", train), ("validation", val)):
            for name, value in values.items():
                self._writer(which).scalar(f"epoch_{name}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            writer = self._writer("train")
            for layer in self.model.layers:
                for w in layer.weights:
                    name = f"{self.model.name}/{w.name}".replace(":", "_")
                    writer.histogram(f"{name}/histogram", w.data, epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        self._close()

    def _close(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
