"""Writes tests/data/lr_schedules.json with real Keras 3 (run with the peers environment:
KERAS_BACKEND=torch python tests/make_schedule_fixtures.py): each schedule's record and its
learning rate at steps 0..44, and an Adam config holding a schedule."""
import json
import os

os.environ["KERAS_BACKEND"] = "torch"
import keras  # noqa: E402

S = keras.optimizers.schedules
cases = {
 "exp": S.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.5),
 "exp_stair": S.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.5, staircase=True),
 "piecewise": S.PiecewiseConstantDecay([5, 12], [1.0, 0.5, 0.1]),
 "poly": S.PolynomialDecay(0.1, decay_steps=20, end_learning_rate=0.01, power=2.0),
 "poly_cycle": S.PolynomialDecay(0.1, decay_steps=8, end_learning_rate=0.01, power=1.0, cycle=True),
 "inverse": S.InverseTimeDecay(0.1, decay_steps=4, decay_rate=0.5),
 "inverse_stair": S.InverseTimeDecay(0.1, decay_steps=4, decay_rate=0.5, staircase=True),
 "cosine": S.CosineDecay(0.1, decay_steps=20, alpha=0.1),
 "cosine_warmup": S.CosineDecay(0.0, decay_steps=20, alpha=0.0, warmup_target=0.2, warmup_steps=6),
 "restarts": S.CosineDecayRestarts(0.1, first_decay_steps=5, t_mul=2.0, m_mul=0.8, alpha=0.05),
}
out = {}
for k, s in cases.items():
    out[k] = {"record": keras.optimizers.schedules.serialize(s),
              "values": [float(s(step)) for step in range(0, 45)]}
opt = keras.optimizers.Adam(learning_rate=cases["exp"])
out["adam_config"] = opt.get_config()
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "lr_schedules.json")
with open(path, "w") as f:
    json.dump(out, f, indent=0)
