"""A careful pure-NumPy implementation of the seed convnet and MLP (the "pure NumPy" peer of
``bench_fit.py``), written for the benchmark without any tensorlib code.

Each convolution is one im2col gather (a strided view copied once) and one BLAS call; its
weight gradient is one BLAS call on the saved columns and its input gradient one BLAS
call plus a col2im of kh*kw shifted adds. ReLU is fused into the conv/dense output (the
mask is the output's sign). 2x2 max pooling is a reshape + max; its backward routes the
gradient through an equality mask. Ties can only share a gradient where the pooled values
are equal, which after a ReLU means equal zeros, whose gradient the ReLU mask removes
anyway, so the result is the same as first-max routing. Softmax and cross-entropy are
fused; RMSprop is Keras 3's (``v = rho v + (1-rho) g^2``, ``w -= lr g / sqrt(v + eps)``).
All float32.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from _fit_common import CONVNET, EPS, LR, RHO


def im2col(x, kh, kw):
    """(N*OH*OW, kh*kw*C) patches of an NHWC array (valid, stride 1), Keras kernel order."""
    n, h, w, c = x.shape
    oh, ow = h - kh + 1, w - kw + 1
    s = x.strides
    view = as_strided(x, (n, oh, ow, kh, kw, c), (s[0], s[1], s[2], s[1], s[2], s[3]),
                      writeable=False)
    return view.reshape(n * oh * ow, kh * kw * c), (n, oh, ow)


class Conv:
    def __init__(self, w, b, need_input_grad):
        self.w, self.b, self.need_gx = w, b, need_input_grad

    def forward(self, x):
        kh, kw, cin, cout = self.w.shape
        self.x_shape = x.shape
        self.cols, (n, oh, ow) = im2col(x, kh, kw)
        y = self.cols @ self.w.reshape(-1, cout)
        y += self.b
        np.maximum(y, 0, out=y)
        self.y = y
        return y.reshape(n, oh, ow, cout)

    def backward(self, gy):
        kh, kw, cin, cout = self.w.shape
        g = gy.reshape(-1, cout) * (self.y > 0)
        grads = [(self.cols.T @ g).reshape(self.w.shape), g.sum(axis=0)]
        if not self.need_gx:
            return None, grads
        n, h, w, c = self.x_shape
        oh, ow = h - kh + 1, w - kw + 1
        dcols = (g @ self.w.reshape(-1, cout).T).reshape(n, oh, ow, kh, kw, c)
        gx = np.zeros(self.x_shape, np.float32)
        for i in range(kh):
            for j in range(kw):
                gx[:, i:i + oh, j:j + ow, :] += dcols[:, :, :, i, j, :]
        return gx, grads


class MaxPool2:
    def forward(self, x):
        n, h, w, c = x.shape
        oh, ow = h // 2, w // 2
        self.x_shape = x.shape
        self.r = x[:, :2 * oh, :2 * ow].reshape(n, oh, 2, ow, 2, c)
        self.y = self.r.max(axis=(2, 4))
        return self.y

    def backward(self, gy):
        n, oh, ow, c = gy.shape
        mask = self.r == self.y[:, :, None, :, None, :]
        gx = np.zeros(self.x_shape, np.float32)
        gx[:, :2 * oh, :2 * ow] = (mask * gy[:, :, None, :, None, :]).reshape(
            n, 2 * oh, 2 * ow, c)
        return gx, []


class Dense:
    def __init__(self, w, b, relu, need_input_grad=True):
        self.w, self.b, self.relu, self.need_gx = w, b, relu, need_input_grad

    def forward(self, x):
        self.x = x
        y = x @ self.w
        y += self.b
        if self.relu:
            np.maximum(y, 0, out=y)
        self.y = y
        return y

    def backward(self, gy):
        g = gy * (self.y > 0) if self.relu else gy
        grads = [self.x.T @ g, g.sum(axis=0)]
        return (g @ self.w.T if self.need_gx else None), grads


class Flatten:
    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, gy):
        return gy.reshape(self.shape), []


class Net:
    """The seed model with weights in Keras order and an RMSprop step."""

    def __init__(self, model, weights):
        self.params = [w.copy() for w in weights]
        p = self.params
        if model == CONVNET:
            self.layers = [Conv(p[0], p[1], False), MaxPool2(), Conv(p[2], p[3], True),
                           MaxPool2(), Conv(p[4], p[5], True), Flatten(),
                           Dense(p[6], p[7], True), Dense(p[8], p[9], False)]
        else:
            self.layers = [Dense(p[0], p[1], True, False), Dense(p[2], p[3], False)]
        self.velocity = [np.zeros_like(w) for w in self.params]

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def train_step(self, x, labels):
        """One RMSprop step; returns (mean loss, number of correct predictions)."""
        logits = self.forward(x)
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        n = len(labels)
        loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), labels]))
        correct = int((logits.argmax(axis=1) == labels).sum())
        g = e / s
        g[np.arange(n), labels] -= 1
        g /= n
        grads = []
        for layer in reversed(self.layers):
            g, lg = layer.backward(g)
            grads = lg + grads
        for w, v, gw in zip(self.params, self.velocity, grads):
            v *= RHO
            v += (1 - RHO) * gw * gw
            w -= LR * gw / np.sqrt(v + EPS)
        return loss, correct

    def predict(self, x, batch=256):
        return np.concatenate([self.forward(x[i:i + batch]) for i in range(0, len(x), batch)])
