"""The fused optimizer kernels (tensorlib._kernels.optim through backend.native) give the
same bits as the NumPy reference path (backend.numpy_ref: Keras's operations in Keras's
order), for every variant, in float32 and float64, at 1 and 2 threads, chunked or not."""
import numpy as np
import pytest

import tensorlib as tl
from tensorlib import backend, optimizers
from tensorlib._kernels import optim as koptim
from tensorlib.backend import native, numpy_ref

# The seed convnet's variables, plus awkward sizes: 0-d, 1 element, primes, and one that
# spans several kernel chunks when the chunk is small.
SHAPES = [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (576, 64), (64,), (64, 10), (10,),
          (), (1,), (7, 13), (1031,)]

CONFIGS = {
    "sgd": lambda: optimizers.SGD(learning_rate=0.05),
    "sgd_momentum": lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9),
    "sgd_nesterov": lambda: optimizers.SGD(learning_rate=0.05, momentum=0.8, nesterov=True),
    "rmsprop": lambda: optimizers.RMSprop(),
    "rmsprop_momentum": lambda: optimizers.RMSprop(learning_rate=0.01, momentum=0.7),
    "rmsprop_centered": lambda: optimizers.RMSprop(learning_rate=0.01, centered=True),
    "rmsprop_centered_momentum": lambda: optimizers.RMSprop(momentum=0.5, centered=True),
    "adam": lambda: optimizers.Adam(learning_rate=0.01),
    "adam_amsgrad": lambda: optimizers.Adam(learning_rate=0.01, amsgrad=True),
    "adamw_clipnorm": lambda: optimizers.AdamW(learning_rate=0.01, clipnorm=1.0),
}


@pytest.fixture
def use_backend():
    before = tl.get_backend()
    yield tl.set_backend
    backend._current = before


def _bits(a):
    return np.ascontiguousarray(a).view(np.uint8).tobytes()


def _state(opt, variables):
    return [v.data for v in variables] + [s for s in opt.variables[2:]]


def _train(backend_name, make, dtype, grads, shapes=SHAPES, seed=1):
    tl.set_backend(backend_name)
    rng = np.random.default_rng(seed)
    variables = [tl.Tensor(rng.standard_normal(s).astype(dtype)) for s in shapes]
    opt = make()
    for step in grads:
        opt.apply([g.astype(dtype) for g in step], variables)
    return opt, variables


def _grads(rng, steps=4, shapes=SHAPES, special=False):
    out = []
    for k in range(steps):
        gs = [rng.standard_normal(s) * 10.0 ** rng.integers(-3, 2) for s in shapes]
        if special and k == 1:              # NaN, inf, subnormal squares, signed zeros
            gs[-1][:8] = [np.nan, np.inf, -np.inf, 1e-21, -1e-21, 0.0, -0.0, 1e-160]
        out.append(gs)
    return out


def _assert_same_bits(a, b):
    assert len(a) == len(b)
    for k, (x, y) in enumerate(zip(a, b)):
        assert x.dtype == y.dtype and x.shape == y.shape, k
        if _bits(x) != _bits(y):
            bad = np.flatnonzero(x.view(np.uint8) != y.view(np.uint8))[:3]
            raise AssertionError(f"array {k} differs at bytes {bad}: {x.ravel()[:4]} vs "
                                 f"{y.ravel()[:4]}")


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")   # the NaN/inf grads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fused_step_is_bit_identical_to_the_numpy_path(name, dtype, use_backend, rng):
    grads = _grads(rng, special=True)
    ref = _train("numpy", CONFIGS[name], dtype, grads)
    got = _train("native", CONFIGS[name], dtype, grads)
    _assert_same_bits(_state(*got), _state(*ref))


@pytest.mark.parametrize("name", ["rmsprop_centered_momentum", "adam_amsgrad", "sgd_nesterov"])
def test_fused_step_is_bit_identical_in_parallel_chunks(name, use_backend, rng):
    grads = _grads(rng)
    ref = _train("numpy", CONFIGS[name], np.float32, grads)
    old = koptim._set_thresholds(serial_below=0, chunk=97)
    tl.set_num_threads(2)
    try:
        got = _train("native", CONFIGS[name], np.float32, grads)
    finally:
        tl.set_num_threads(None)
        koptim._set_thresholds(**old)
    _assert_same_bits(_state(*got), _state(*ref))


@pytest.mark.parametrize("make", [optimizers.RMSprop, optimizers.Adam,
                                  lambda: optimizers.SGD(momentum=0.9)])
def test_the_seed_optimizers_take_one_kernel_call_per_step(make, use_backend, monkeypatch,
                                                           rng):
    calls = []
    for name in ("sgd_update", "rmsprop_update", "adam_update"):
        fn = getattr(koptim, name)
        monkeypatch.setattr(koptim, name,
                            lambda *a, _fn=fn, _n=name, **k: calls.append(_n) or _fn(*a, **k))
    monkeypatch.setattr(numpy_ref, "adam_update", None)     # the NumPy path is not taken
    monkeypatch.setattr(numpy_ref, "rmsprop_update", None)
    monkeypatch.setattr(numpy_ref, "sgd_update", None)
    _train("native", make, np.float32, _grads(rng, steps=3))
    assert len(calls) == 3 and len(set(calls)) == 1


def test_non_contiguous_and_other_dtypes_fall_back_with_the_same_bits(use_backend, rng):
    """A transposed variable, a float16 one and a float64 one among float32 variables."""
    shapes = [(5, 7), (6, 4), (3,), (9,)]
    grads = _grads(rng, shapes=shapes)

    def run(backend_name):
        tl.set_backend(backend_name)
        r = np.random.default_rng(3)
        variables = [tl.Tensor(r.standard_normal((7, 5)).astype(np.float32).T),
                     tl.Tensor(r.standard_normal((6, 4)).astype(np.float32)),
                     tl.Tensor(r.standard_normal(3).astype(np.float16)),
                     tl.Tensor(r.standard_normal(9))]
        assert not variables[0].data.flags.c_contiguous
        opt = optimizers.Adam(learning_rate=0.01, amsgrad=True)
        for step in grads:
            opt.apply([np.asfortranarray(g) for g in step], variables)
        return _state(opt, variables)
    _assert_same_bits(run("native"), run("numpy"))


def test_a_variable_listed_twice_keeps_the_sequential_order(use_backend, rng):
    """Overlapping buffers run serially in list order, as the NumPy path does."""
    grads = [rng.standard_normal((40000,)).astype(np.float32) for _ in range(2)]

    def run(backend_name):
        tl.set_backend(backend_name)
        v = tl.Tensor(np.ones(40000, np.float32))
        opt = optimizers.SGD(learning_rate=0.1, momentum=0.9)
        for _ in range(3):
            opt.apply(grads, [v, v])
        return [v.data] + opt.variables[2:]
    old = koptim._set_thresholds(serial_below=0, chunk=1000)
    tl.set_num_threads(2)
    try:
        _assert_same_bits(run("native"), run("numpy"))
    finally:
        tl.set_num_threads(None)
        koptim._set_thresholds(**old)


def test_denormals_are_kept_as_numpy_keeps_them(use_backend):
    # float32 g = 1e-21: g^2 = 1e-42 is subnormal; a flush-to-zero kernel would give 0.
    g = [np.full(4, 1e-21, np.float32)]

    def run(backend_name):
        tl.set_backend(backend_name)
        v = [tl.Tensor(np.zeros(4, np.float32))]
        opt = optimizers.RMSprop(rho=0.0)
        opt.apply(g, v)
        return opt.variables[2:] + [v[0].data]
    got = run("native")
    assert got[0][0] != 0 and got[0][0] < np.finfo(np.float32).tiny
    _assert_same_bits(got, run("numpy"))


# ------------------------------------------------------------------ kernel checks --

def _adam_args(n=2, dtype=np.float32, shape=(3,)):
    return [[np.zeros(shape, dtype) for _ in range(n)] for _ in range(4)] + [None]


def test_kernel_argument_checks_name_the_argument_and_the_value():
    w, g, m, v, _ = _adam_args()
    good = dict(alpha=1e-3, one_minus_beta_1=0.1, one_minus_beta_2=1e-3, epsilon=1e-7)
    koptim.adam_update(w, g, m, v, None, **good)
    cases = [
        (([w[0], w[1].astype(np.float64)], g, m, v), r"variables\[1\].*float32.*Received: "
         r"variables\[1\] = a float64 array"),
        ((w, g, [m[0], np.zeros((3, 2), np.float32)[:, 0]], v),
         r"momentums\[1\].*Received: .*not C-contiguous"),
        ((w, [g[0], np.zeros(4, np.float32)], m, v), r"grads\[1\].*shape \(3,\)"),
        ((w, g, m, [v[0]]), r"velocities must have one array per variable \(2\). "
         r"Received: 1"),
        ((w, g, m, [v[0], [0.0, 0.0, 0.0]]), r"Received: velocities\[1\] = a list"),
        ((w, [g[0], np.zeros(3, np.int32)], m, v), r"grads\[1\].*int32"),
    ]
    ro = np.zeros(3, np.float32)
    ro.flags.writeable = False
    cases.append((([w[0], ro], g, m, v), r"variables\[1\].*read-only"))
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            koptim.adam_update(*args, None, **good)
    with pytest.raises(ValueError, match="nthreads"):
        koptim.adam_update(w, g, m, v, None, **good, nthreads=0)
    with pytest.raises(TypeError):
        koptim.adam_update(w, g, None, v, None, **good)


def test_the_kernel_writes_nothing_when_it_refuses_a_step():
    w, g, m, v, _ = _adam_args()
    g = [np.ones(3, np.float32), np.ones(3, np.float32)]
    bad_v = [v[0], np.zeros(3, np.float64)]
    with pytest.raises(ValueError):
        koptim.adam_update(w, g, m, bad_v, None, 0.1, 0.1, 0.1, 1e-7)
    assert not any(a.any() for a in w + m + v)


def test_empty_steps_and_empty_variables():
    koptim.sgd_update([], [], None, 0.1, 0.0, False)
    w = [np.zeros((0, 3), np.float32)]
    koptim.rmsprop_update(w, [np.zeros((0, 3), np.float32)], [np.zeros((0, 3), np.float32)],
                          None, None, 0.1, 0.9, 0.1, 0.0, 1e-7)
    native.adam_update([], [], [], [], None, 0.1, 0.1, 0.1, 1e-7)


def test_a_custom_optimizer_with_keras_update_step_still_works():
    class SignSGD(optimizers.Optimizer):
        def update_step(self, gradient, variable, learning_rate):
            variable.data -= np.float32(learning_rate) * np.sign(gradient)
    v = tl.Tensor(np.zeros(3, np.float32))
    SignSGD(learning_rate=0.5).apply([np.array([1.0, -2.0, 0.0], np.float32)], [v])
    np.testing.assert_array_equal(v.numpy(), [-0.5, 0.5, 0.0])
    with pytest.raises(NotImplementedError):
        optimizers.Optimizer(0.1).apply([np.ones(3, np.float32)], [v])


@pytest.mark.parametrize("make", [optimizers.SGD, optimizers.RMSprop, optimizers.Adam])
def test_update_step_of_a_built_in_optimizer_updates_one_variable(make, use_backend):
    a, b = (tl.Tensor(np.ones(4, np.float32)) for _ in range(2))
    g = np.full(4, 0.25, np.float32)
    opt_a, opt_b = make(), make()
    opt_a.apply([g], [a])
    opt_b.build([b])
    opt_b.update_step(g, b, opt_b.learning_rate)
    _assert_same_bits([a.data], [b.data])
