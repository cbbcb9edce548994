"""The one gradient checker shared by the tensorlib tests.

``check_gradients(fn, inputs)`` compares the reverse-mode gradients tensorlib computes for
``fn`` against central finite differences, in float64.

The scalar that is differentiated is ``L(x) = sum(fn(x) * W)`` with ``W`` a fixed random
array of the output's shape (magnitudes in [0.5, 1.5], random signs), so every output
element contributes with a distinct weight and a wrong/transposed/mis-broadcast gradient
cannot cancel out.

The numeric derivative is the textbook central difference
``(L(x + h e_k) - L(x - h e_k)) / (x_k+h - (x_k-h))``. The difference of the two losses is
evaluated as ``sum((fn(x+h e_k) - fn(x-h e_k)) * W)``: mathematically the same number, but
the unperturbed output elements cancel exactly, so round-off does not grow with the size
of the output. The denominator is the step actually taken in floating point. With float64
and h = 1e-6 this agrees with the exact derivative of a smooth op to ~1e-9 relative, so the
default tolerance (rtol=1e-6, atol=1e-8) is tight; do not loosen it to make a test pass.
"""
import numpy as np

import tensorlib as tl

__all__ = ["check_gradients", "weights_for"]


def weights_for(shape, seed=0):
    """The fixed random weighting array ``W`` used for an output of ``shape``."""
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    magnitude = rng.uniform(0.5, 1.5, size=shape)
    sign = rng.choice(np.array([-1.0, 1.0]), size=shape)
    return np.asarray(magnitude * sign, dtype=np.float64)


def _to_numpy(value, what):
    assert isinstance(value, tl.Tensor), f"{what} should be a tl.Tensor, got {type(value)!r}"
    return np.asarray(value.numpy())


def check_gradients(fn, inputs, eps=1e-6, rtol=1e-6, atol=1e-8, seed=0):
    """Assert that tensorlib's gradients of ``fn`` match central finite differences.

    fn:     callable taking one ``tl.Tensor`` per input and returning a ``tl.Tensor``
            (of any shape, including ``()``).
    inputs: list of float64 ndarrays (may be non-contiguous views; they are not modified).

    Returns the list of analytic gradients (ndarrays) for further assertions.
    """
    arrays = [np.asarray(x) for x in inputs]
    for k, a in enumerate(arrays):
        assert a.dtype == np.float64, f"gradcheck input {k} must be float64, got {a.dtype}"
    originals = [a.copy() for a in arrays]

    # ---- analytic gradients -------------------------------------------------------
    tensors = [tl.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out_np = _to_numpy(out, "fn's output")
    assert out_np.dtype == np.float64, f"fn's output dtype is {out_np.dtype}, expected float64"
    assert out.requires_grad, "output of fn on requires_grad inputs does not require grad"
    W = weights_for(out_np.shape, seed)
    loss = (out * tl.tensor(W)).sum()
    assert tuple(loss.shape) == (), f"weighted loss should be 0-d, got shape {loss.shape}"
    loss.backward()

    analytic = []
    for k, (t, a) in enumerate(zip(tensors, arrays)):
        assert t.grad is not None, f"input {k}: .grad is None after backward"
        g = _to_numpy(t.grad, f"input {k}'s .grad")
        assert g.shape == a.shape, f"input {k}: grad shape {g.shape} != input shape {a.shape}"
        assert g.dtype == a.dtype, f"input {k}: grad dtype {g.dtype} != input dtype {a.dtype}"
        np.testing.assert_array_equal(
            t.numpy(), originals[k], err_msg=f"input {k} was modified by fn/backward")
        analytic.append(g.copy())

    # ---- numeric gradients --------------------------------------------------------
    def evaluate(arrs):
        res = fn(*[tl.tensor(x) for x in arrs])
        return np.asarray(_to_numpy(res, "fn's output"), dtype=np.float64)

    work = [a.copy() for a in originals]
    for k, a in enumerate(work):
        numeric = np.zeros(a.shape, dtype=np.float64)
        for idx in np.ndindex(*a.shape):
            x0 = a[idx]
            xp, xm = x0 + eps, x0 - eps
            a[idx] = xp
            f_plus = evaluate(work)
            a[idx] = xm
            f_minus = evaluate(work)
            a[idx] = x0
            numeric[idx] = np.sum((f_plus - f_minus) * W) / (xp - xm)
        np.testing.assert_allclose(
            analytic[k], numeric, rtol=rtol, atol=atol,
            err_msg=f"gradient of input {k} (shape {a.shape}) disagrees with finite differences")
    return analytic
