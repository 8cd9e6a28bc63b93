"""A third corpus: ordinary scientific-computing functions written the way NumPy users write
them (ODE integrators, stencils, iterative solvers, root finding, quadrature, statistics,
filters, Monte Carlo estimates, small physics models). Every name starts with `sci_`.

Each entry is (function, make_args(rng, variant), argnums), as in tests/corpus_extra.py.
Variants 0 and 1 give arguments of the same types and shapes but other values; `argnums` is
None or the arguments to differentiate (the function then returns a float64 scalar and every
differentiated argument is a float64 array).

`CORPUS` maps each function's name to its entry; `PENDING` keeps entries taken out because
they hit a jitgraph bug (with a one-line diagnosis)."""
from __future__ import annotations

from typing import Any

import numpy as np

F32, F64, I32, I64 = np.float32, np.float64, np.int32, np.int64

G = 9.81          # module-level physical constant
SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def _randn(rng: np.random.Generator, *shape: int, dtype: Any = F64) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def _pick(variant: int, *options: Any) -> Any:
    return options[variant % len(options)]


# =========================================================================================
# ODE integrators
# =========================================================================================

def sci_euler_decay(y0, k, dt, n):
    # dy/dt = -k y, explicit Euler, vector of initial conditions, Python scalar parameters
    y = y0
    for _ in range(n):
        y = y - dt * k * y
    return y


def _sho_rhs(state, omega):
    x, v = state[0], state[1]
    return np.array([v, -omega * omega * x])


def sci_rk4_oscillator(state, omega, dt, nsteps):
    s = state
    for _ in range(nsteps):
        k1 = _sho_rhs(s, omega)
        k2 = _sho_rhs(s + 0.5 * dt * k1, omega)
        k3 = _sho_rhs(s + 0.5 * dt * k2, omega)
        k4 = _sho_rhs(s + dt * k3, omega)
        s = s + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    energy = 0.5 * s[1] ** 2 + 0.5 * omega ** 2 * s[0] ** 2
    return s, energy


def sci_velocity_verlet(x, v, dt, n):
    # particles in a quartic well, U = x^4 / 4, F = -x^3
    a = -x ** 3
    for _ in range(n):
        x = x + v * dt + 0.5 * a * dt * dt
        a_new = -x ** 3
        v = v + 0.5 * (a + a_new) * dt
        a = a_new
    energy = 0.5 * (v * v).sum() + 0.25 * (x ** 4).sum()
    return x, v, energy


def sci_leapfrog_trajectory(x0, v0, dt, n):
    # records the trajectory of a 1-D harmonic oscillator, kick-drift-kick
    xs = np.zeros(n)
    x = x0
    v = v0
    for i in range(n):
        v = v - 0.5 * dt * x
        x = x + dt * v
        v = v - 0.5 * dt * x
        xs[i] = x
    return xs


def sci_lotka_volterra(pop, params, dt, n):
    # pop = [prey, predator], params = [alpha, beta, delta, gamma]
    alpha, beta, delta, gamma = params[0], params[1], params[2], params[3]
    hist = np.zeros((n + 1, 2))
    hist[0] = pop
    p = pop
    for i in range(n):
        prey, pred = p[0], p[1]
        dprey = alpha * prey - beta * prey * pred
        dpred = delta * prey * pred - gamma * pred
        p = p + dt * np.array([dprey, dpred])
        hist[i + 1] = p
    return hist


def sci_logistic_map(r, x0, n):
    x = np.full_like(r, x0)
    for _ in range(n):
        x = r * x * (1.0 - x)
    return x, x.mean()


def sci_spring_mass_damped(x0, v0, k, m, c, dt, n):
    # Euler-Cromer for m x'' = -k x - c x'
    t = np.zeros(n)
    pos = np.zeros(n)
    x, v = x0, v0
    for i in range(n):
        a = (-k * x - c * v) / m
        v = v + a * dt
        x = x + v * dt
        t[i] = (i + 1) * dt
        pos[i] = x
    return t, pos


def sci_projectile_drag(v0, angle, k, dt):
    # integrates until the projectile lands; returns the range, flight time and steps
    vx = v0 * np.cos(angle)
    vy = v0 * np.sin(angle)
    x = 0.0
    y = 0.0
    t = 0.0
    steps = 0
    while y >= 0.0:
        speed = np.sqrt(vx * vx + vy * vy)
        vx = vx - k * speed * vx * dt
        vy = vy - (G + k * speed * vy) * dt
        x = x + vx * dt
        y = y + vy * dt
        t += dt
        steps += 1
    return x, t, steps


# =========================================================================================
# N-body by broadcasting
# =========================================================================================

def sci_nbody_forces(pos, mass, soft):
    d = pos[None, :, :] - pos[:, None, :]           # d[i, j] = r_j - r_i
    r2 = (d * d).sum(axis=-1) + soft * soft
    inv_r3 = r2 ** -1.5
    inv_r3 = inv_r3 * (1.0 - np.eye(pos.shape[0]))
    acc = (d * (mass[None, :] * inv_r3)[:, :, None]).sum(axis=1)
    return acc * mass[:, None], acc


def sci_nbody_potential(pos, mass):
    n = pos.shape[0]
    diff = pos[:, None, :] - pos[None, :, :]
    r = np.sqrt((diff ** 2).sum(axis=2) + np.eye(n))
    pair = np.outer(mass, mass) / r
    return -0.5 * (pair.sum() - (mass * mass).sum())


# =========================================================================================
# PDE stencils
# =========================================================================================

def sci_heat_1d(u0, alpha, nsteps):
    u = u0.copy()
    for _ in range(nsteps):
        lap = np.zeros_like(u)
        lap[1:-1] = u[2:] - 2.0 * u[1:-1] + u[:-2]
        u = u + alpha * lap
    return u


def sci_heat_1d_loss(u0, target):
    u = u0
    for _ in range(5):
        new = np.zeros_like(u)
        new[1:-1] = u[1:-1] + 0.2 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        new[0] = u[0]
        new[-1] = u[-1]
        u = new
    return ((u - target) ** 2).sum()


def sci_wave_1d(u, u_prev, c2, n):
    for _ in range(n):
        u_next = np.zeros_like(u)
        u_next[1:-1] = 2.0 * u[1:-1] - u_prev[1:-1] + c2 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u_prev = u
        u = u_next
    return u, (u * u).sum()


def sci_heat_2d(T, n):
    # Dirichlet boundaries held at their initial values
    for _ in range(n):
        new = T.copy()
        new[1:-1, 1:-1] = 0.25 * (T[:-2, 1:-1] + T[2:, 1:-1] + T[1:-1, :-2] + T[1:-1, 2:])
        T = new
    return T


def sci_laplacian_2d(u, h):
    lap = np.zeros_like(u)
    lap[1:-1, 1:-1] = (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2]
                       - 4.0 * u[1:-1, 1:-1]) / (h * h)
    return lap


def sci_finite_diff_gradient(f, h):
    # central differences inside, one-sided at the ends (like np.gradient)
    g = np.empty_like(f)
    g[1:-1] = (f[2:] - f[:-2]) / (2.0 * h)
    g[0] = (f[1] - f[0]) / h
    g[-1] = (f[-1] - f[-2]) / h
    return g


def sci_second_derivative_f32(f, h):
    d2 = (f[2:] - 2 * f[1:-1] + f[:-2]) / h ** 2
    return d2, np.abs(d2).max()


# =========================================================================================
# Linear iterative solvers and factorizations
# =========================================================================================

def sci_jacobi(A, b, iters):
    D = np.diag(A)
    R = A - np.diag(D)
    x = np.zeros_like(b)
    for _ in range(iters):
        x = (b - R @ x) / D
    residual = np.linalg.norm(A @ x - b)
    return x, residual


def sci_gauss_seidel(A, b, sweeps):
    n = b.shape[0]
    x = np.zeros(n)
    for _ in range(sweeps):
        for i in range(n):
            s = A[i] @ x - A[i, i] * x[i]
            x[i] = (b[i] - s) / A[i, i]
    return x


def sci_jacobi_tol(A, b, tol):
    D = np.diag(A)
    x = np.zeros_like(b)
    it = 0
    err = 1.0
    while err > tol and it < 500:
        x_new = x + (b - A @ x) / D
        err = np.abs(x_new - x).max()
        x = x_new
        it += 1
    return x, it


def sci_power_iteration(A, iters):
    v = np.ones(A.shape[0])
    v = v / np.linalg.norm(v)
    lam = 0.0
    for _ in range(iters):
        w = A @ v
        v = w / np.linalg.norm(w)
        lam = v @ A @ v
    return lam, v


def sci_gram_schmidt(A):
    m, n = A.shape
    Q = np.zeros((m, n))
    R = np.zeros((n, n))
    for j in range(n):
        v = A[:, j]
        for k in range(j):
            R[k, j] = Q[:, k] @ A[:, j]
            v = v - R[k, j] * Q[:, k]
        R[j, j] = np.linalg.norm(v)
        Q[:, j] = v / R[j, j]
    return Q, R


def sci_least_squares_loss(A, x, b):
    r = A @ x - b
    return 0.5 * (r @ r) + 0.01 * (x * x).sum()


def sci_rayleigh_loss(A, v):
    # Rayleigh quotient of a symmetrised matrix
    S = 0.5 * (A + A.T)
    return (v @ S @ v) / (v @ v)


# =========================================================================================
# Root finding
# =========================================================================================

def sci_bisection_cubic(a, b, tol):
    fa = a ** 3 - 2.0 * a - 5.0
    n = 0
    while b - a > tol:
        m = 0.5 * (a + b)
        fm = m ** 3 - 2.0 * m - 5.0
        if fa * fm <= 0.0:
            b = m
        else:
            a = m
            fa = fm
        n += 1
    return 0.5 * (a + b), n


def sci_newton_sqrt(c, tol):
    x = np.maximum(c, 1.0)
    for it in range(100):
        x_new = 0.5 * (x + c / x)
        if np.abs(x_new - x).max() < tol:
            x = x_new
            break
        x = x_new
    return x, it


def sci_newton_kepler(M, e, tol):
    # solves Kepler's equation E - e sin E = M, element-wise, while any update is large
    E = M.copy()
    delta = np.ones_like(M)
    k = 0
    while np.abs(delta).max() > tol:
        delta = (E - e * np.sin(E) - M) / (1.0 - e * np.cos(E))
        E = E - delta
        k += 1
    return E, k


def sci_secant(x0, x1, tol, maxit):
    f0 = np.cos(x0) - x0
    f1 = np.cos(x1) - x1
    i = 0
    while abs(x1 - x0) > tol and i < maxit:
        x2 = x1 - f1 * (x1 - x0) / (f1 - f0)
        x0, f0 = x1, f1
        x1 = x2
        f1 = np.cos(x1) - x1
        i += 1
    return x1, i


# =========================================================================================
# Polynomials and quadrature
# =========================================================================================

def sci_horner(coeffs, x):
    y = np.zeros_like(x)
    for c in coeffs:
        y = y * x + c
    return y


def sci_horner_loss(coeffs, x):
    y = np.zeros_like(x)
    for i in range(coeffs.shape[0]):
        y = y * x + coeffs[i]
    return (y * y).mean()


def sci_clenshaw_chebyshev(c, x):
    b1 = np.zeros_like(x)
    b2 = np.zeros_like(x)
    for k in reversed(range(1, c.shape[0])):
        b1, b2 = 2.0 * x * b1 - b2 + c[k], b1
    return x * b1 - b2 + c[0]


def sci_trapezoid(y, x):
    return 0.5 * ((y[1:] + y[:-1]) * np.diff(x)).sum()


def sci_simpson(f, a, b):
    n = f.shape[0] - 1            # even number of intervals
    h = (b - a) / n
    return h / 3.0 * (f[0] + f[-1] + 4.0 * f[1:-1:2].sum() + 2.0 * f[2:-1:2].sum())


def sci_simpson_loss(w, xs):
    # integral over [0, 1] of (w0 + w1 x + w2 x^2)^2 sampled on xs
    f = (w[0] + w[1] * xs + w[2] * xs * xs) ** 2
    h = 1.0 / (xs.shape[0] - 1)
    return h / 3.0 * (f[0] + f[-1] + 4.0 * f[1:-1:2].sum() + 2.0 * f[2:-1:2].sum())


def sci_midpoint_gauss(a, b, n):
    xs = a + (b - a) * (np.arange(n) + 0.5) / n
    return (b - a) / n * np.exp(-xs * xs).sum()


# =========================================================================================
# Statistics
# =========================================================================================

def sci_zscores_f32(x):
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    z = (x - mu) / sd
    return z, np.abs(z).max(axis=0)


def sci_cov_corr(X):
    n = X.shape[0]
    Xc = X - X.mean(axis=0)
    cov = Xc.T @ Xc / (n - 1)
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    return cov, corr


def sci_weighted_stats(x, w):
    wsum = w.sum()
    mean = (w * x).sum() / wsum
    var = (w * (x - mean) ** 2).sum() / wsum
    return mean, var, np.sqrt(var)


def sci_gaussian_nll(x, mu, log_sigma):
    sigma = np.exp(log_sigma)
    z = (x[:, None] - mu[None, :]) / sigma[None, :]
    return (0.5 * z * z + log_sigma[None, :] + 0.5 * np.log(2.0 * np.pi)).sum()


def sci_int_stats(counts):
    total = counts.sum()
    mean = counts.mean()
    spread = counts.max() - counts.min()
    above = (counts > mean).sum()
    return total, mean, counts.var(), spread, above


def sci_histogram_counts(x, edges):
    inside = (x[:, None] >= edges[None, :-1]) & (x[:, None] < edges[None, 1:])
    counts = inside.sum(axis=0)
    density = counts / (x.shape[0] * np.diff(edges))
    return counts, density


def sci_running_mean(x):
    c = np.cumsum(x)
    return c / np.arange(1, x.shape[0] + 1), c[-1]


def sci_moving_sum_int(x):
    c = np.cumsum(x)
    out = c[3:] - c[:-3]
    return out, out.max()


def sci_welford_loop(x):
    mean = 0.0
    m2 = 0.0
    for i in range(x.shape[0]):
        d = x[i] - mean
        mean = mean + d / (i + 1)
        m2 = m2 + d * (x[i] - mean)
    return mean, m2 / (x.shape[0] - 1)


# =========================================================================================
# Filters and image processing
# =========================================================================================

def sci_iir_lowpass(x, a):
    out = np.zeros_like(x)
    out[0] = x[0]
    for i in range(1, x.shape[0]):
        out[i] = a * out[i - 1] + (1.0 - a) * x[i]
    return out


def sci_iir_loss(x, target):
    y = np.zeros_like(x)
    prev = 0.0
    for i in range(x.shape[0]):
        prev = 0.7 * prev + 0.3 * x[i]
        y[i] = prev
    return ((y - target) ** 2).sum()


def sci_biquad(x, b, a):
    # direct form I, b = [b0, b1, b2], a = [a1, a2]
    y = np.zeros_like(x)
    x1 = 0.0
    x2 = 0.0
    y1 = 0.0
    y2 = 0.0
    for n in range(x.shape[0]):
        yn = b[0] * x[n] + b[1] * x1 + b[2] * x2 - a[0] * y1 - a[1] * y2
        x2, x1 = x1, x[n]
        y2, y1 = y1, yn
        y[n] = yn
    return y


def sci_conv2d_valid(img, k):
    kh, kw = k.shape
    H, W = img.shape
    out = np.zeros((H - kh + 1, W - kw + 1), dtype=img.dtype)
    for i in range(kh):
        for j in range(kw):
            out += k[i, j] * img[i:i + H - kh + 1, j:j + W - kw + 1]
    return out


def sci_sobel(img):
    gx = (img[:-2, 2:] + 2 * img[1:-1, 2:] + img[2:, 2:]
          - img[:-2, :-2] - 2 * img[1:-1, :-2] - img[2:, :-2])
    gy = (img[2:, :-2] + 2 * img[2:, 1:-1] + img[2:, 2:]
          - img[:-2, :-2] - 2 * img[:-2, 1:-1] - img[:-2, 2:])
    mag = np.hypot(gx, gy)
    return mag, np.arctan2(gy, gx)


def sci_sobel_table(img):
    H, W = img.shape
    gx = np.zeros((H - 2, W - 2))
    for i in range(3):
        for j in range(3):
            gx = gx + SOBEL_X[i, j] * img[i:i + H - 2, j:j + W - 2]
    return gx


def sci_conv_loss(img, k):
    out = sci_conv2d_valid(img, k)
    return (np.tanh(out) ** 2).sum()


# =========================================================================================
# Monte Carlo and misc physics
# =========================================================================================

def sci_monte_carlo_pi(u, v):
    inside = (u * u + v * v) <= 1.0
    est = 4.0 * inside.mean()
    stderr = 4.0 * inside.std() / np.sqrt(u.size)
    return est, stderr


def sci_mc_integral(u, a, b):
    x = a + (b - a) * u
    fx = np.exp(-x * x) * np.cos(x)
    return (b - a) * fx.mean(), (b - a) * fx.std() / np.sqrt(u.shape[0])


def sci_random_walk(steps):
    # steps: int array of +-1, shape (walkers, n)
    paths = np.cumsum(steps, axis=1)
    final = paths[:, -1]
    return final.mean(), (final * final).mean(), np.abs(paths).max()


def sci_mandelbrot_counts(cr, ci, maxit):
    zr = np.zeros_like(cr)
    zi = np.zeros_like(ci)
    counts = np.zeros(cr.shape, dtype=np.int32)
    for _ in range(maxit):
        alive = zr * zr + zi * zi <= 4.0
        zr, zi = np.where(alive, zr * zr - zi * zi + cr, zr), np.where(alive, 2 * zr * zi + ci, zi)
        counts = counts + alive
    return counts


def sci_ising_energy(spins, J):
    # periodic 2-D Ising lattice of int8 spins
    right = np.concatenate([spins[:, 1:], spins[:, :1]], axis=1)
    down = np.concatenate([spins[1:], spins[:1]], axis=0)
    e = -J * (spins * right + spins * down).sum()
    return e, spins.sum()


def sci_spring_chain_energy(x, k):
    # masses on a line joined by springs of stiffness k[i] and rest length 1
    stretch = np.diff(x) - 1.0
    return 0.5 * (k * stretch * stretch).sum()


def sci_verlet_loss(x0, v0):
    x = x0
    v = v0
    dt = 0.05
    a = -np.sin(x)
    for _ in range(10):
        x = x + v * dt + 0.5 * a * dt * dt
        a_new = -np.sin(x)
        v = v + 0.5 * (a + a_new) * dt
        a = a_new
    return (x * x).sum() + 0.5 * (v * v).sum()


def sci_rk4_decay_loss(k, y0):
    y = y0
    dt = 0.1
    for _ in range(8):
        k1 = -k * y
        k2 = -k * (y + 0.5 * dt * k1)
        k3 = -k * (y + 0.5 * dt * k2)
        k4 = -k * (y + dt * k3)
        y = y + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return (y * y).sum()


def sci_kinetic_energy_f32(v, m):
    ke = 0.5 * m[:, None] * v * v
    return ke.sum(axis=1), ke.sum(), np.sqrt((v * v).sum(axis=1)).max()


# =========================================================================================
# More solvers, boundary conditions and lookups
# =========================================================================================

def sci_thomas_tridiagonal(a, b, c, d):
    # tridiagonal solve: a sub-, b main, c super-diagonal
    n = d.shape[0]
    cp = np.zeros(n)
    dp = np.zeros(n)
    x = np.zeros(n)
    cp[0] = c[0] / b[0]
    dp[0] = d[0] / b[0]
    for i in range(1, n):
        m = b[i] - a[i] * cp[i - 1]
        cp[i] = c[i] / m
        dp[i] = (d[i] - a[i] * dp[i - 1]) / m
    x[n - 1] = dp[n - 1]
    for i in range(n - 2, -1, -1):
        x[i] = dp[i] - cp[i] * x[i + 1]
    return x


def sci_poisson_1d_loss(b, d):
    # -u'' = d with a variable diagonal b, solved by the Thomas algorithm
    n = d.shape[0]
    cp = np.zeros(n)
    dp = np.zeros(n)
    x = np.zeros(n)
    cp[0] = -1.0 / b[0]
    dp[0] = d[0] / b[0]
    for i in range(1, n):
        m = b[i] + cp[i - 1]
        cp[i] = -1.0 / m
        dp[i] = (d[i] + dp[i - 1]) / m
    x[n - 1] = dp[n - 1]
    for i in range(n - 2, -1, -1):
        x[i] = dp[i] - cp[i] * x[i + 1]
    return (x * x).sum()


def sci_cholesky_logdet(A):
    n = A.shape[0]
    L = np.zeros_like(A)
    for j in range(n):
        s = A[j, j]
        for k in range(j):
            s -= L[j, k] ** 2
        L[j, j] = np.sqrt(s)
        for i in range(j + 1, n):
            t = A[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / L[j, j]
    return 2.0 * np.log(np.diag(L)).sum()


def sci_upwind_periodic(u, c, nsteps):
    # advection with periodic boundaries: u[i - 1] wraps around at i = 0
    n = u.shape[0]
    for _ in range(nsteps):
        new = np.zeros(n)
        for i in range(n):
            new[i] = u[i] - c * (u[i] - u[i - 1])
        u = new
    return u, u.sum()


def sci_red_black_gs(u, f, sweeps):
    u = u.copy()
    for _ in range(sweeps):
        u[1:-1:2] = 0.5 * (u[:-2:2] + u[2::2] - f[1:-1:2])
        u[2:-1:2] = 0.5 * (u[1:-2:2] + u[3::2] - f[2:-1:2])
    return u


def sci_wave_buffers(u0, c2, n):
    # three rotating buffers, as in a textbook leapfrog wave solver
    u_prev = u0.copy()
    u = u0.copy()
    u_next = np.zeros_like(u0)
    for _ in range(n):
        u_next[1:-1] = 2.0 * u[1:-1] - u_prev[1:-1] + c2 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u_prev, u, u_next = u, u_next, u_prev
    return u


def sci_histogram_loop(x, lo, hi, nbins):
    counts = np.zeros(nbins, dtype=np.int64)
    width = (hi - lo) / nbins
    for i in range(x.shape[0]):
        b = int((x[i] - lo) / width)
        if 0 <= b < nbins:
            counts[b] += 1
    return counts


def sci_linear_interp(xq, xs, ys):
    h = xs[1] - xs[0]
    j = np.clip(np.floor((xq - xs[0]) / h).astype(np.int64), 0, xs.shape[0] - 2)
    t = (xq - xs[j]) / h
    return ys[j] * (1 - t) + ys[j + 1] * t


def sci_dft_power(x):
    n = x.shape[0]
    k = np.arange(n)
    ang = 2 * np.pi * np.outer(k, k) / n
    re = (x[None, :] * np.cos(ang)).sum(axis=1)
    im = -(x[None, :] * np.sin(ang)).sum(axis=1)
    return re * re + im * im


def sci_fixed_point_allclose(x):
    k = 0
    while True:
        x_new = np.cos(x)
        k += 1
        if np.allclose(x_new, x, rtol=1e-10, atol=1e-12) or k >= 500:
            break
        x = x_new
    return x_new, k


def sci_boltzmann(E, T):
    w = np.exp(-(E - E.min()) / T)
    p = w / w.sum()
    return p, (p * E).sum(), -(p * np.log(p)).sum()


# =========================================================================================
# Kept out of CORPUS (jitgraph bugs, see PENDING below)
# =========================================================================================

def sci_gauss_elimination(A, b):
    M = A.copy()
    y = b.copy()
    n = y.shape[0]
    for k in range(n):
        piv = M[k, k]
        for i in range(k + 1, n):
            f = M[i, k] / piv
            M[i] = M[i] - f * M[k]
            y[i] = y[i] - f * y[k]
    x = np.zeros(n)
    for i in range(n - 1, -1, -1):
        x[i] = (y[i] - M[i] @ x) / M[i, i]
    return x


def sci_sorted_samples(x):
    # bubble sort of a small sample, then its median and range
    a = x.copy()
    n = a.shape[0]
    for i in range(n):
        for j in range(n - 1 - i):
            if a[j] > a[j + 1]:
                t = a[j]
                a[j] = a[j + 1]
                a[j + 1] = t
    return a, a[n // 2], a[-1] - a[0]


def sci_relax_change(u0, n):
    u = u0.copy()
    prev = u
    for _ in range(n):
        prev = u.copy()
        u[1:-1] = 0.5 * (u[2:] + u[:-2])
    return u, np.abs(u - prev).max()


def sci_survival_loss(hazard):
    # survival curve of a three-stage process; a hazard of exactly 1 is certain death
    surv = np.cumprod(1.0 - hazard)
    return surv.sum()


def sci_best_state(x0, proposals):
    # greedy coordinate search keeping the best state (best = x shares x's memory, so in
    # NumPy later writes into x show in best)
    n = x0.shape[0]
    x = x0.copy()
    best = x0.copy()
    best_e = (x0 * x0).sum()
    for k in range(proposals.shape[0]):
        x[k % n] = proposals[k]
        e = (x * x).sum()
        if e < best_e:
            best_e = e
            best = x
    return best, best_e


def sci_histogram_moments(counts):
    # first moment of integer bin counts, with the bin index made float by a float arange
    k = np.arange(float(counts.shape[0]))
    m1 = (counts * k).sum()
    return m1, m1 / counts.sum(), k


# =========================================================================================
# argument makers
# =========================================================================================

def _spd(rng, n):
    a = rng.standard_normal((n, n))
    return a @ a.T / n + n * np.eye(n)


def _a_euler(rng, v):
    return rng.uniform(0.5, 2.0, 5), 0.3 + 0.1 * v, 0.1, _pick(v, 10, 17)


def _a_rk4(rng, v):
    return np.array([1.0, 0.0]) + 0.1 * _randn(rng, 2), 1.5, 0.05, _pick(v, 20, 13)


def _a_verlet(rng, v):
    return _randn(rng, 4), _randn(rng, 4) * 0.3, 0.05, _pick(v, 12, 7)


def _a_leapfrog(rng, v):
    return float(rng.standard_normal()), float(rng.standard_normal()), 0.1, 16


def _a_lv(rng, v):
    return np.array([10.0, 5.0]) + rng.uniform(0, 1, 2), np.array([1.1, 0.4, 0.1, 0.4]), 0.01, 12


def _a_logistic(rng, v):
    return rng.uniform(2.5, 3.9, 8), 0.2 + 0.1 * v, _pick(v, 30, 21)


def _a_spring(rng, v):
    return 1.0 + 0.1 * v, 0.0, 4.0, 1.0, 0.3, 0.05, 20


def _a_projectile(rng, v):
    return 20.0 + 5.0 * v, 0.7 - 0.2 * v, 0.01, 0.01


def _a_nbody(rng, v):
    return _randn(rng, 5, 3), rng.uniform(0.5, 2.0, 5), 0.1


def _a_nbody_pot(rng, v):
    return _randn(rng, 4, 3) * 2.0, rng.uniform(0.5, 2.0, 4)


def _a_heat1d(rng, v):
    return rng.uniform(0, 1, 12), 0.25, _pick(v, 10, 6)


def _a_heat1d_loss(rng, v):
    return _randn(rng, 10), _randn(rng, 10) * 0.5


def _a_wave(rng, v):
    u = np.sin(np.linspace(0, np.pi, 11)) * (1 + 0.2 * v)
    return u, u.copy(), 0.3, _pick(v, 8, 5)


def _a_heat2d(rng, v):
    return rng.uniform(0, 1, (6, 7)), _pick(v, 5, 3)


def _a_lap2d(rng, v):
    return _randn(rng, 6, 5), 0.5


def _a_fd(rng, v):
    return np.sin(np.linspace(0, 3, 9)) + 0.1 * _randn(rng, 9), 0.375


def _a_d2_f32(rng, v):
    return np.cos(np.linspace(0, 2, 10)).astype(F32) + _randn(rng, 10, dtype=F32) * 0.01, 0.25


def _a_jacobi(rng, v):
    return _spd(rng, 5), _randn(rng, 5), _pick(v, 25, 15)


def _a_gs(rng, v):
    return _spd(rng, 4), _randn(rng, 4), _pick(v, 6, 4)


def _a_jacobi_tol(rng, v):
    return _spd(rng, 5), _randn(rng, 5), 1e-10


def _a_power(rng, v):
    return _spd(rng, 4), _pick(v, 30, 20)


def _a_gs_qr(rng, v):
    return (_randn(rng, 6, 4),)


def _a_lstsq(rng, v):
    return _randn(rng, 7, 3), _randn(rng, 3), _randn(rng, 7)


def _a_rayleigh(rng, v):
    return _randn(rng, 4, 4), _randn(rng, 4)


def _a_bisect(rng, v):
    return 1.0 + 0.2 * v, 3.0, 1e-10


def _a_newton_sqrt(rng, v):
    return rng.uniform(0.1, 50.0, 6), 1e-12


def _a_kepler(rng, v):
    return rng.uniform(0.0, 2 * np.pi, 6), 0.3 + 0.2 * v, 1e-12


def _a_secant(rng, v):
    return 0.0 + 0.1 * v, 1.0, 1e-12, 50


def _a_horner(rng, v):
    return _randn(rng, 5), rng.uniform(-1.0, 1.0, 7)


def _a_cheb(rng, v):
    return _randn(rng, 6), rng.uniform(-1.0, 1.0, 8)


def _a_trap(rng, v):
    x = np.sort(rng.uniform(0, 2, 9))
    return np.sin(x) + _randn(rng, 9) * 0.1, x


def _a_simpson(rng, v):
    return np.exp(-np.linspace(0, 1, 9) ** 2) + 0.01 * v, 0.0, 1.0 + 0.5 * v


def _a_simpson_loss(rng, v):
    return _randn(rng, 3), np.linspace(0.0, 1.0, 11)


def _a_midpoint(rng, v):
    return -1.0 - 0.5 * v, 2.0, 16


def _a_z_f32(rng, v):
    return (_randn(rng, 8, 3, dtype=F32) * 3.0 + 1.0,)


def _a_cov(rng, v):
    return (_randn(rng, 10, 4) @ _randn(rng, 4, 4),)


def _a_wstats(rng, v):
    return _randn(rng, 9), rng.uniform(0.1, 1.0, 9)


def _a_gauss_nll(rng, v):
    return _randn(rng, 6), _randn(rng, 3), _randn(rng, 3) * 0.3


def _a_int_stats(rng, v):
    return (rng.integers(0, 20, 12).astype(I32),)


def _a_hist(rng, v):
    return _randn(rng, 40), np.linspace(-2.0, 2.0, 6)


def _a_running(rng, v):
    return (_randn(rng, 10),)


def _a_moving_int(rng, v):
    return (rng.integers(-5, 10, 11).astype(I64),)


def _a_welford(rng, v):
    return (_randn(rng, 9) + 3.0,)


def _a_iir(rng, v):
    return _randn(rng, 16), 0.8 - 0.3 * v


def _a_iir_loss(rng, v):
    return _randn(rng, 10), _randn(rng, 10) * 0.5


def _a_biquad(rng, v):
    return _randn(rng, 14), np.array([0.2, 0.4, 0.2]), np.array([-0.5, 0.2])


def _a_conv(rng, v):
    return _randn(rng, 7, 8), _randn(rng, 3, 3)


def _a_conv_f32(rng, v):
    return _randn(rng, 7, 8, dtype=F32), _randn(rng, 3, 3, dtype=F32)


def _a_img(rng, v):
    return (rng.uniform(0, 1, (7, 6)),)


def _a_conv_loss(rng, v):
    return _randn(rng, 5, 5), _randn(rng, 2, 2) * 0.5


def _a_mc_pi(rng, v):
    return rng.uniform(0, 1, 200), rng.uniform(0, 1, 200)


def _a_mc_int(rng, v):
    return rng.uniform(0, 1, 100), 0.0, 1.0 + v


def _a_walk(rng, v):
    return (rng.choice(np.array([-1, 1], dtype=I32), size=(6, 20)),)


def _a_mandel(rng, v):
    return rng.uniform(-2.0, 0.5, (4, 5)), rng.uniform(-1.2, 1.2, (4, 5)), _pick(v, 20, 12)


def _a_ising(rng, v):
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=(5, 6)), 1.0 + 0.5 * v


def _a_chain(rng, v):
    return np.arange(6.0) * 1.1 + 0.1 * _randn(rng, 6), rng.uniform(0.5, 2.0, 5)


def _a_verlet_loss(rng, v):
    return _randn(rng, 4), _randn(rng, 4) * 0.5


def _a_rk4_loss(rng, v):
    return rng.uniform(0.2, 1.5, 4), _randn(rng, 4)


def _a_ke_f32(rng, v):
    return _randn(rng, 5, 3, dtype=F32), rng.uniform(1.0, 3.0, 5).astype(F32)


def _a_thomas(rng, v):
    n = 7
    return rng.uniform(-1, 0, n), rng.uniform(3, 4, n), rng.uniform(-1, 0, n), _randn(rng, n)


def _a_poisson(rng, v):
    return rng.uniform(2.5, 3.5, 6), _randn(rng, 6)


def _a_chol(rng, v):
    return (_spd(rng, 4),)


def _a_upwind(rng, v):
    return _randn(rng, 8), 0.4, _pick(v, 5, 3)


def _a_redblack(rng, v):
    return _randn(rng, 11), _randn(rng, 11) * 0.1, _pick(v, 4, 7)


def _a_wave_buf(rng, v):
    return np.sin(np.linspace(0, np.pi, 10)) + 0.1 * _randn(rng, 10), 0.3, _pick(v, 6, 5)


def _a_hist_loop(rng, v):
    return _randn(rng, 60), -2.0, 2.0, 8


def _a_interp(rng, v):
    return rng.uniform(0, 1, 9), np.linspace(0, 1, 6), _randn(rng, 6)


def _a_dft(rng, v):
    return (_randn(rng, 8),)


def _a_fixed_point(rng, v):
    return (rng.uniform(0, 1, 4),)


def _a_boltz(rng, v):
    return rng.uniform(0, 5, 6), 0.7 + 0.5 * v


def _a_gauss_elim(rng, v):
    return _randn(rng, 4, 4) + 4 * np.eye(4), _randn(rng, 4)


def _a_sorted(rng, v):
    return (_randn(rng, 7),)


def _a_relax(rng, v):
    return _randn(rng, 8), _pick(v, 3, 5)


def _a_survival(rng, v):
    h = rng.uniform(0.05, 0.5, 3)
    h[v] = 1.0
    return (h,)


def _a_best(rng, v):
    return np.ones(4), np.concatenate([0.1 * _randn(rng, 4), 3.0 + _randn(rng, 4)])


def _a_hist_moments(rng, v):
    return (rng.integers(0, 20, 6).astype(I64),)


_ENTRIES = [
    (sci_euler_decay, _a_euler, None),
    (sci_rk4_oscillator, _a_rk4, None),
    (sci_velocity_verlet, _a_verlet, None),
    (sci_leapfrog_trajectory, _a_leapfrog, None),
    (sci_lotka_volterra, _a_lv, None),
    (sci_logistic_map, _a_logistic, None),
    (sci_spring_mass_damped, _a_spring, None),
    (sci_projectile_drag, _a_projectile, None),
    (sci_nbody_forces, _a_nbody, None),
    (sci_nbody_potential, _a_nbody_pot, (0, 1)),
    (sci_heat_1d, _a_heat1d, None),
    (sci_heat_1d_loss, _a_heat1d_loss, (0,)),
    (sci_wave_1d, _a_wave, None),
    (sci_heat_2d, _a_heat2d, None),
    (sci_laplacian_2d, _a_lap2d, None),
    (sci_finite_diff_gradient, _a_fd, None),
    (sci_second_derivative_f32, _a_d2_f32, None),
    (sci_jacobi, _a_jacobi, None),
    (sci_gauss_seidel, _a_gs, None),
    (sci_jacobi_tol, _a_jacobi_tol, None),
    (sci_power_iteration, _a_power, None),
    (sci_gram_schmidt, _a_gs_qr, None),
    (sci_least_squares_loss, _a_lstsq, (0, 1, 2)),
    (sci_rayleigh_loss, _a_rayleigh, (0, 1)),
    (sci_bisection_cubic, _a_bisect, None),
    (sci_newton_sqrt, _a_newton_sqrt, None),
    (sci_newton_kepler, _a_kepler, None),
    (sci_secant, _a_secant, None),
    (sci_horner, _a_horner, None),
    (sci_horner_loss, _a_horner, (0, 1)),
    (sci_clenshaw_chebyshev, _a_cheb, None),
    (sci_trapezoid, _a_trap, (0, 1)),
    (sci_simpson, _a_simpson, None),
    (sci_simpson_loss, _a_simpson_loss, 0),
    (sci_midpoint_gauss, _a_midpoint, None),
    (sci_zscores_f32, _a_z_f32, None),
    (sci_cov_corr, _a_cov, None),
    (sci_weighted_stats, _a_wstats, None),
    (sci_gaussian_nll, _a_gauss_nll, (1, 2)),
    (sci_int_stats, _a_int_stats, None),
    (sci_histogram_counts, _a_hist, None),
    (sci_running_mean, _a_running, None),
    (sci_moving_sum_int, _a_moving_int, None),
    (sci_welford_loop, _a_welford, None),
    (sci_iir_lowpass, _a_iir, None),
    (sci_iir_loss, _a_iir_loss, (0,)),
    (sci_biquad, _a_biquad, None),
    (sci_conv2d_valid, _a_conv_f32, None),
    (sci_sobel, _a_img, None),
    (sci_sobel_table, _a_img, None),
    (sci_conv_loss, _a_conv_loss, (0, 1)),
    (sci_monte_carlo_pi, _a_mc_pi, None),
    (sci_mc_integral, _a_mc_int, None),
    (sci_random_walk, _a_walk, None),
    (sci_mandelbrot_counts, _a_mandel, None),
    (sci_ising_energy, _a_ising, None),
    (sci_spring_chain_energy, _a_chain, (0, 1)),
    (sci_verlet_loss, _a_verlet_loss, (0, 1)),
    (sci_rk4_decay_loss, _a_rk4_loss, (0, 1)),
    (sci_kinetic_energy_f32, _a_ke_f32, None),
    (sci_thomas_tridiagonal, _a_thomas, None),
    (sci_poisson_1d_loss, _a_poisson, (0, 1)),
    (sci_cholesky_logdet, _a_chol, 0),
    (sci_upwind_periodic, _a_upwind, None),
    (sci_red_black_gs, _a_redblack, None),
    (sci_wave_buffers, _a_wave_buf, None),
    (sci_histogram_loop, _a_hist_loop, None),
    (sci_linear_interp, _a_interp, None),
    (sci_dft_power, _a_dft, None),
    (sci_fixed_point_allclose, _a_fixed_point, None),
    (sci_boltzmann, _a_boltz, None),
    # found bugs when written (fixed since)
    (sci_gauss_elimination, _a_gauss_elim, None),
    (sci_sorted_samples, _a_sorted, None),
    (sci_relax_change, _a_relax, None),
    (sci_survival_loss, _a_survival, 0),
    (sci_histogram_moments, _a_hist_moments, None),
]

CORPUS = {fn.__name__: (fn, make_args, argnums) for fn, make_args, argnums in _ENTRIES}

# entries taken out of CORPUS because they hit a jitgraph bug: name -> (fn, make_args,
# argnums, diagnosis)
PENDING: dict[str, tuple[Any, Any, Any, str]] = {
    'sci_best_state': (sci_best_state, _a_best, None,
        'refused by design: `b = a if c else ...` then writing into a makes b maybe a, a JitTypeError (eager NumPy shares the array; the IR cannot)'),
}
