"""A short tour of tensorlib's autograd: fit y = 3x - 2 with gradient descent."""
import tensorlib as tl

tl.manual_seed(0)
x = tl.randn(256, 1)
y = 3 * x - 2 + 0.01 * tl.randn(256, 1)

w = tl.zeros(1, 1, requires_grad=True)
b = tl.zeros(1, requires_grad=True)
for step in range(200):
    loss = ((x @ w + b - y) ** 2).mean()
    w.grad = b.grad = None
    loss.backward()
    with tl.no_grad():
        w.data -= 0.1 * w.grad.data
        b.data -= 0.1 * b.grad.data
    if step % 50 == 0:
        print(f"step {step:3d}  loss {loss.item():.5f}")
print(f"learned w = {w.item():.3f}, b = {b.item():.3f}  (true 3, -2)")
