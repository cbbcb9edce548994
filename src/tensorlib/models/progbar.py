"""Keras's training progress display.

``verbose=1`` on a terminal redraws one line per step: ``12/938 ━━━━━━━━━━━━━━━━━━━━
3s 13ms/step - accuracy: 0.8812 - loss: 0.3375`` (the first step is left out of the time
per step, as Keras does). When the output is not a terminal the same line is printed, as
plain text, once per epoch. ``verbose=2`` prints one line per epoch:
``938/938 - 12s - 13ms/step - accuracy: ... - loss: ...``. A bar of unknown length
(``target=None``: a generator without ``steps``) counts ``      7/Unknown`` until it is
finalized, when the steps seen become its length.
"""
import sys
import time

BOLD, GREEN, GREY, RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"


def format_step_time(seconds, unit="step"):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def format_value(value):
    if getattr(value, "ndim", 0):          # a vector result (F1Score(average=None), ...):
        value = float(value.mean())                            # its mean, as Keras
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_eta(eta):
    if eta > 3600:
        return "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
    if eta > 60:
        return "%d:%02d" % (eta // 60, eta % 60)
    return "%ds" % eta


class Progbar:
    def __init__(self, target, verbose=1, width=20, interval=0.05, stream=None):
        self.target, self.verbose, self.width, self.interval = target, verbose, width, interval
        self.stream = stream or sys.stdout
        self.dynamic = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.time()
        self.after_first = None
        self.last_draw = 0.0
        self.prev_width = 0

    def _time_per_step(self, current, now):
        if not current:
            return 0.0
        if self.after_first is not None and current > 1:
            per = (now - self.after_first) / (current - 1)
        else:
            per = (now - self.start) / current
        if current == 1:
            self.after_first = now
        return per

    def update(self, current, logs=None, finalize=None):
        logs = logs or {}
        now = time.time()
        per_step = self._time_per_step(current, now)
        if finalize and self.target is None:
            self.target = current
        final = finalize if finalize is not None else \
            self.target is not None and current >= self.target
        metrics = "".join(f" - {k}: {format_value(v)}" for k, v in logs.items())
        if self.verbose == 2:
            if final:
                self._write(f"{self._counter(current)} - {now - self.start:.0f}s - "
                            f"{format_step_time(per_step)}{metrics}\n")
            return
        if self.verbose != 1 or (not final and now - self.last_draw < self.interval):
            return
        self.last_draw = now
        if not self.dynamic:
            if final:
                bar = "━" * self.width
                self._write(f"{self._counter(current)} {bar} {now - self.start:.0f}s "
                            f"{format_step_time(per_step)}{metrics}\n")
            return
        if self.target is None:
            info = f" {BOLD}{now - self.start:.0f}s{RESET} {format_step_time(per_step)}{metrics}"
            plain_width = 15 + len(info) - 8
            pad = " " * max(self.prev_width - plain_width, 0)
            self._write("\b" * self.prev_width + "\r" + f"{current:7d}/Unknown" + info + pad)
            self.prev_width = plain_width
            return
        done = int(self.width * current / self.target)
        bar = (f"{BOLD}{self._counter(current)}{RESET} "
               + (f"{GREEN}{'━' * done}{RESET}" if done else "")
               + f"{GREY}{'━' * (self.width - done)}{RESET}")
        if final:
            when = f"{now - self.start:.0f}s"
        else:
            when = format_eta(per_step * (self.target - current))
        info = f" {BOLD}{when}{RESET} {format_step_time(per_step)}{metrics}"
        plain_width = len(self._counter(current)) + 1 + self.width + len(info) - 8
        pad = " " * max(self.prev_width - plain_width, 0)
        self._write("\b" * self.prev_width + "\r" + bar + info + pad + ("\n" if final else ""))
        self.prev_width = plain_width

    def _counter(self, current):
        digits = len(str(self.target))
        return f"{current:{digits}d}/{self.target}"

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()
