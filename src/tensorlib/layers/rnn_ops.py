"""The recurrent loops of SimpleRNN, LSTM and GRU as autograd Functions.

Forward: one GEMM projects the inputs of every timestep at once (``x @ kernel + bias``),
then each step does one recurrent GEMM (``h @ recurrent_kernel``) and the gates in NumPy.
Backward is hand-written backpropagation through time: one pass back over the steps
(a GEMM per step for the gradient reaching the previous state), then one GEMM each for
the gradients of the inputs, the kernel and the recurrent kernel over all steps.

Each Function takes ``(x, kernel, recurrent_kernel, bias, *initial_states)`` with ``x``
of shape (batch, time, features) and returns the states after every step, batch-major,
packed along the last axis: (batch, time, units) for SimpleRNN and GRU (``h``), (batch,
time, 2 * units) for LSTM (``h`` then ``c``). Options: ``mask`` (batch, time) booleans,
Keras's rule: a masked step keeps the previous states; ``reverse`` runs the steps last to
first (Keras's ``go_backwards``; the result stays in processing order);
``input_masks`` / ``recurrent_masks``: Keras's dropout with ``recurrent_dropout`` (its
``implementation=1``), one scaled keep-mask per gate, (gates, batch, features) for the
inputs and (gates, batch, units) for the state entering the recurrent product. Activations
are given by name (``ACTIVATIONS``): their derivatives are written from their outputs.
"""
import numpy as np

from ..autograd import Function
from ..backend import get_backend


def _sigmoid(a):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-a))


ACTIVATIONS = {     # name: (f, f' as a function of f's output)
    "tanh": (np.tanh, lambda y: 1.0 - y * y),
    "sigmoid": (_sigmoid, lambda y: y * (1.0 - y)),
    "relu": (lambda a: np.maximum(a, 0), lambda y: (y > 0).astype(y.dtype)),
    "linear": (lambda a: a, lambda y: np.ones_like(y)),
}


def _mm(a, b, trans_b=False, trans_a=False):
    """``a @ b`` (``b`` transposed when ``trans_b``) on the active backend's GEMM (the
    project's threads, as every other matmul of tensorlib)."""
    return get_backend().gemm(a, b, trans_a=trans_a, trans_b=trans_b)


def _time_major(x, mask, reverse):
    """``x`` as (time, batch, features), steps in processing order, and the mask as
    (time, batch, 1) booleans (or None)."""
    xt = x.transpose(1, 0, 2)
    mt = None if mask is None else np.asarray(mask, dtype=bool).T[:, :, None]
    if reverse:
        xt = xt[::-1]
        mt = None if mt is None else mt[::-1]
    return np.ascontiguousarray(xt), mt


def _project(xt, kernel, bias, masks=None):
    """``xt @ kernel + bias`` for all steps in one GEMM: (time, batch, gates); with
    per-gate input masks, one GEMM per gate of the masked inputs."""
    steps, batch, features = xt.shape
    if masks is None:
        xp = _mm(xt.reshape(steps * batch, features), kernel)
    else:
        xp = np.concatenate([_mm((xt * m).reshape(steps * batch, features), w) for m, w in
                             zip(masks, _blocks(kernel, len(masks)))], axis=1)
    if bias is not None:
        xp += bias
    return xp.reshape(steps, batch, -1)


def _blocks(w, n):
    """The ``n`` gate blocks of ``w``'s columns, each contiguous."""
    k = w.shape[1] // n
    return [np.ascontiguousarray(w[:, i * k:(i + 1) * k]) for i in range(n)]


def _gate_mm(h, w, masks):
    """``h @ w``; with recurrent dropout, per gate ``(h * masks[g]) @ w_g``."""
    if masks is None:
        return _mm(h, w)
    return np.concatenate([_mm(h * m, b) for m, b in zip(masks, _blocks(w, len(masks)))],
                          axis=1)


def _gate_mm_back(dz, w, masks):
    """The gradient reaching ``h`` through ``_gate_mm(h, w, masks)`` from ``dz``."""
    if masks is None:
        return _mm(dz, w, trans_b=True)
    k = dz.shape[1] // len(masks)
    return sum(_mm(np.ascontiguousarray(dz[:, i * k:(i + 1) * k]), b, trans_b=True) * m
               for i, (m, b) in enumerate(zip(masks, _blocks(w, len(masks)))))


def _gate_outer(hs, dz, masks):
    """The gradient of ``w`` in ``_gate_mm`` summed over the steps."""
    if masks is None:
        return _outer_over_steps(hs, dz)
    k = dz.shape[2] // len(masks)
    return np.concatenate([_outer_over_steps(hs * m, dz[:, :, i * k:(i + 1) * k])
                           for i, m in enumerate(masks)], axis=1)


def _keep(mt, t, new, old):
    """Keras's masking of a step: the new states where the step is real, else the old."""
    return new if mt is None else np.where(mt[t], new, old)


def _split(dh, mt, t):
    """The gradient reaching a step's new state, and the part that bypasses it (masked
    rows carry the previous state through)."""
    if mt is None:
        return dh, 0.0
    m = mt[t]
    return np.where(m, dh, 0), np.where(m, 0, dh)


def _input_grads(ctx, dxp):
    """Gradients of x, kernel and the input bias from the per-step projection gradients
    (time, batch, gates), in three GEMMs."""
    steps, batch, gates = dxp.shape
    flat = dxp.reshape(steps * batch, gates)
    xt, kernel, masks = ctx.xt, ctx.kernel, ctx.input_masks
    dkernel = dx = None
    if ctx.needs_input_grad[1]:
        dkernel = _mm(xt.reshape(steps * batch, -1), flat, trans_a=True) if masks is None \
            else _gate_outer(xt, dxp, masks)
    dbias = flat.sum(axis=0) if ctx.has_bias else None
    if ctx.needs_input_grad[0]:
        if masks is None:
            dx = _mm(flat, kernel, trans_b=True).reshape(steps, batch, -1)
        else:
            k = gates // len(masks)
            dx = sum(_mm(np.ascontiguousarray(flat[:, i * k:(i + 1) * k]), w, trans_b=True)
                     .reshape(steps, batch, -1) * m
                     for i, (m, w) in enumerate(zip(masks, _blocks(kernel, len(masks)))))
        if ctx.reverse:
            dx = dx[::-1]
        dx = np.ascontiguousarray(dx.transpose(1, 0, 2))
    return dx, dkernel, dbias


def _outer_over_steps(a, b):
    """sum_t a[t]^T b[t] as one GEMM: (time, batch, n) x (time, batch, m) -> (n, m)."""
    return _mm(a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1]), trans_a=True)


def _batch_major(seq):
    return np.ascontiguousarray(seq.transpose(1, 0, 2))


class _Loop(Function):
    def _setup(self, x, kernel, bias, mask, reverse, input_masks, recurrent_masks):
        self.xt, self.mt = _time_major(x, mask, reverse)
        self.kernel, self.reverse, self.has_bias = kernel, reverse, bias is not None
        self.input_masks, self.rm = input_masks, recurrent_masks
        return self.xt.shape[0]


class SimpleRNNLoop(_Loop):
    """h_t = act(x_t W + b + h_{t-1} U)."""

    def forward(self, x, kernel, recurrent_kernel, bias, h0, activation="tanh", mask=None,
                reverse=False, input_masks=None, recurrent_masks=None):
        act, self.dact = ACTIVATIONS[activation]
        steps = self._setup(x, kernel, bias, mask, reverse, input_masks, recurrent_masks)
        xp = _project(self.xt, kernel, bias, input_masks)
        hs = np.empty((steps + 1,) + h0.shape, x.dtype)    # hs[t]: the state before step t
        hs[0] = h0
        new = np.empty_like(hs[1:])                        # each step's unmasked result
        for t in range(steps):
            new[t] = act(xp[t] + _gate_mm(hs[t], recurrent_kernel, self.rm))
            hs[t + 1] = _keep(self.mt, t, new[t], hs[t])
        self.hs, self.new, self.rk = hs, new, recurrent_kernel
        return _batch_major(hs[1:])

    def backward(self, g):
        gt = g.transpose(1, 0, 2)
        da = np.empty_like(self.new)
        dh = np.zeros_like(self.hs[0])
        for t in reversed(range(len(da))):
            dnew, carry = _split(dh + gt[t], self.mt, t)
            da[t] = dnew * self.dact(self.new[t])
            dh = _gate_mm_back(da[t], self.rk, self.rm) + carry
        dx, dk, db = _input_grads(self, da)
        drk = _gate_outer(self.hs[:-1], da, self.rm)
        return dx, dk, drk, db, dh


class LSTMLoop(_Loop):
    """Gates i, f, c, o (Keras's order): c_t = f c_{t-1} + i act(c~), h_t = o act(c_t)."""

    def forward(self, x, kernel, recurrent_kernel, bias, h0, c0, activation="tanh",
                recurrent_activation="sigmoid", mask=None, reverse=False, input_masks=None,
                recurrent_masks=None):
        act, self.dact = ACTIVATIONS[activation]
        ract, self.dract = ACTIVATIONS[recurrent_activation]
        steps = self._setup(x, kernel, bias, mask, reverse, input_masks, recurrent_masks)
        u = h0.shape[1]
        xp = _project(self.xt, kernel, bias, input_masks)
        hs = np.empty((steps + 1,) + h0.shape, x.dtype)
        cs = np.empty_like(hs)
        hs[0], cs[0] = h0, c0
        gates = np.empty_like(xp)                 # i, f, c~, o after their activations
        tc = np.empty_like(hs[1:])                # act(new c)
        for t in range(steps):
            z = xp[t] + _gate_mm(hs[t], recurrent_kernel, self.rm)
            gt = gates[t]
            gt[:, :2 * u] = ract(z[:, :2 * u])
            gt[:, 2 * u:3 * u] = act(z[:, 2 * u:3 * u])
            gt[:, 3 * u:] = ract(z[:, 3 * u:])
            c_new = gt[:, u:2 * u] * cs[t] + gt[:, :u] * gt[:, 2 * u:3 * u]
            tc[t] = act(c_new)
            hs[t + 1] = _keep(self.mt, t, gt[:, 3 * u:] * tc[t], hs[t])
            cs[t + 1] = _keep(self.mt, t, c_new, cs[t])
        self.hs, self.cs, self.gates, self.tc, self.rk = hs, cs, gates, tc, recurrent_kernel
        return _batch_major(np.concatenate([hs[1:], cs[1:]], axis=2))

    def backward(self, g):
        u = self.hs.shape[2]
        gt = g.transpose(1, 0, 2)
        dz = np.empty_like(self.gates)
        dh = np.zeros_like(self.hs[0])
        dc = np.zeros_like(dh)
        for t in reversed(range(len(dz))):
            dh_new, carry_h = _split(dh + gt[t, :, :u], self.mt, t)
            dc_new, carry_c = _split(dc + gt[t, :, u:], self.mt, t)
            gates, tc = self.gates[t], self.tc[t]
            i, f, cc, o = (gates[:, k * u:(k + 1) * u] for k in range(4))
            dc_new = dc_new + dh_new * o * self.dact(tc)
            dz[t, :, :u] = dc_new * cc * self.dract(i)
            dz[t, :, u:2 * u] = dc_new * self.cs[t] * self.dract(f)
            dz[t, :, 2 * u:3 * u] = dc_new * i * self.dact(cc)
            dz[t, :, 3 * u:] = dh_new * tc * self.dract(o)
            dh = _gate_mm_back(dz[t], self.rk, self.rm) + carry_h
            dc = dc_new * f + carry_c
        dx, dk, db = _input_grads(self, dz)
        drk = _gate_outer(self.hs[:-1], dz, self.rm)
        return dx, dk, drk, db, dh, dc


class GRULoop(_Loop):
    """Gates z, r, h~ (Keras's order); h_t = z h_{t-1} + (1 - z) h~. ``reset_after``:
    h~ = act(x W_h + b_h + r (h U_h + b'_h)) with bias (2, 3 units) (input, recurrent);
    else h~ = act(x W_h + b_h + (r h) U_h) with bias (3 units,). Recurrent dropout masks
    the ``h`` of the recurrent products only, as in Keras."""

    def forward(self, x, kernel, recurrent_kernel, bias, h0, activation="tanh",
                recurrent_activation="sigmoid", reset_after=True, mask=None, reverse=False,
                input_masks=None, recurrent_masks=None):
        act, self.dact = ACTIVATIONS[activation]
        ract, self.dract = ACTIVATIONS[recurrent_activation]
        steps = self._setup(x, kernel, bias, mask, reverse, input_masks, recurrent_masks)
        u, rm = h0.shape[1], self.rm
        in_bias, rec_bias = (bias[0], bias[1]) if bias is not None and reset_after \
            else (bias, None)
        xp = _project(self.xt, kernel, in_bias, input_masks)
        hs = np.empty((steps + 1,) + h0.shape, x.dtype)
        hs[0] = h0
        zs, rs, hh = (np.empty_like(hs[1:]) for _ in range(3))
        extra = np.empty_like(hs[1:])     # reset_after: h U_h + b'_h; else r h (h masked)
        rk_zr = np.ascontiguousarray(recurrent_kernel[:, :2 * u])
        rk_h = np.ascontiguousarray(recurrent_kernel[:, 2 * u:])
        for t in range(steps):
            h = hs[t]
            if reset_after:
                inner = _gate_mm(h, recurrent_kernel, rm)
                if rec_bias is not None:
                    inner += rec_bias
            else:
                inner = _gate_mm(h, rk_zr, None if rm is None else rm[:2])
            zs[t] = ract(xp[t, :, :u] + inner[:, :u])
            rs[t] = ract(xp[t, :, u:2 * u] + inner[:, u:2 * u])
            if reset_after:
                extra[t] = inner[:, 2 * u:]
                hh[t] = act(xp[t, :, 2 * u:] + rs[t] * extra[t])
            else:
                extra[t] = rs[t] * (h if rm is None else h * rm[2])
                hh[t] = act(xp[t, :, 2 * u:] + _mm(extra[t], rk_h))
            hs[t + 1] = _keep(self.mt, t, zs[t] * h + (1 - zs[t]) * hh[t], h)
        self.hs, self.zs, self.rs, self.hh, self.extra = hs, zs, rs, hh, extra
        self.rk, self.reset_after = recurrent_kernel, reset_after
        return _batch_major(hs[1:])

    def backward(self, g):
        u, rm = self.hs.shape[2], self.rm
        gt = g.transpose(1, 0, 2)
        steps = len(self.zs)
        dxp = np.empty((steps,) + self.hs.shape[1:2] + (3 * u,), g.dtype)
        dinner = np.empty_like(dxp) if self.reset_after else None
        rk_zr = np.ascontiguousarray(self.rk[:, :2 * u])
        rk_h = np.ascontiguousarray(self.rk[:, 2 * u:])
        rm_zr = None if rm is None else rm[:2]
        dh = np.zeros_like(self.hs[0])
        for t in reversed(range(steps)):
            h, z, r, hh, extra = self.hs[t], self.zs[t], self.rs[t], self.hh[t], self.extra[t]
            dnew, carry = _split(dh + gt[t], self.mt, t)
            da = dnew * (1 - z) * self.dact(hh)
            dzp = dnew * (h - hh) * self.dract(z)
            dxp[t, :, :u], dxp[t, :, 2 * u:] = dzp, da
            dh = dnew * z + carry
            if self.reset_after:
                dxp[t, :, u:2 * u] = da * extra * self.dract(r)
                dinner[t, :, :2 * u] = dxp[t, :, :2 * u]
                dinner[t, :, 2 * u:] = da * r
                dh = dh + _gate_mm_back(dinner[t], self.rk, rm)
            else:
                drh = _mm(da, rk_h, trans_b=True)
                hd = h if rm is None else h * rm[2]
                dxp[t, :, u:2 * u] = drh * hd * self.dract(r)
                dh = dh + drh * r * (1 if rm is None else rm[2]) \
                    + _gate_mm_back(np.ascontiguousarray(dxp[t, :, :2 * u]), rk_zr, rm_zr)
        dx, dk, db = _input_grads(self, dxp)
        if self.reset_after:
            drk = _gate_outer(self.hs[:-1], dinner, rm)
            if db is not None:
                db = np.stack([db, dinner.reshape(-1, 3 * u).sum(axis=0)])
        else:
            drk = np.concatenate([_gate_outer(self.hs[:-1], dxp[:, :, :2 * u], rm_zr),
                                  _outer_over_steps(self.extra, dxp[:, :, 2 * u:])], axis=1)
        return dx, dk, drk, db, dh
