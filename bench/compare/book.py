#!/usr/bin/python3
"""The book's Python versions of Impulse's workloads (Lanaro, Python High
Performance, 2nd ed.), timed. Run with Debian's /usr/bin/python3 and
python3-numpy. Each subcommand prints one JSON object with the seconds taken.

  book.py particles_python --particles 1000 --t_end 0.1 [--measure_t_end T]
  book.py particles_numpy  --particles 1000 --t_end 0.1
  book.py pi_python --samples 1e8 [--measure 1e6]   (larger sizes estimated)
  book.py pi_numpy  --samples 1e8
  book.py distance_numpy --points FILE.f64
  book.py wordcount --text FILE
  book.py make_points --n 10000 --out FILE.f64
  book.py make_text --mib 32 --out FILE
"""
import argparse
import collections
import json
import random
import re
import sys
import time

# ---------------------------------------------------------------- particles
# Chapter 1: the pure-Python simulator, verbatim in substance.


class Particle:
    def __init__(self, x, y, ang_vel):
        self.x = x
        self.y = y
        self.ang_vel = ang_vel


class ParticleSimulator:
    def __init__(self, particles):
        self.particles = particles

    def evolve(self, dt):
        timestep = 0.00001
        nsteps = int(dt / timestep)
        for i in range(nsteps):
            for p in self.particles:
                norm = (p.x**2 + p.y**2) ** 0.5
                v_x = -p.y / norm
                v_y = p.x / norm
                d_x = timestep * p.ang_vel * v_x
                d_y = timestep * p.ang_vel * v_y
                p.x += d_x
                p.y += d_y

    # Chapter 3: the NumPy version.
    def evolve_numpy(self, dt):
        import numpy as np

        timestep = 0.00001
        nsteps = int(dt / timestep)
        r_i = np.array([[p.x, p.y] for p in self.particles])
        ang_vel_i = np.array([p.ang_vel for p in self.particles])
        for i in range(nsteps):
            norm_i = np.sqrt((r_i**2).sum(axis=1))
            v_i = r_i[:, [1, 0]]
            v_i[:, 0] *= -1
            v_i /= norm_i[:, np.newaxis]
            d_i = timestep * ang_vel_i[:, np.newaxis] * v_i
            r_i += d_i
        for i, p in enumerate(self.particles):
            p.x, p.y = r_i[i]


def book_particles(n, seed=2024):
    rng = random.Random(seed)
    return [
        Particle(rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0),
                 rng.uniform(-1.0, 1.0)) for _ in range(n)
    ]


def check_reference():
    """The book's three particles, evolve(0.1): both versions must agree."""
    want = [(0.210269, 0.543863), (-0.099334, -0.490034), (0.191358, -0.365227)]
    for method in ("evolve", "evolve_numpy"):
        sim = ParticleSimulator([
            Particle(0.3, 0.5, +1),
            Particle(0.0, -0.5, -1),
            Particle(-0.1, -0.4, +3)
        ])
        getattr(sim, method)(0.1)
        for p, (x, y) in zip(sim.particles, want):
            assert abs(p.x - x) < 1e-5 and abs(p.y - y) < 1e-5, (method, p.x,
                                                                   p.y)


def particles(args, numpy):
    check_reference()
    sim = ParticleSimulator(book_particles(args.particles))
    t_end = args.t_end
    measured = args.measure_t_end or t_end
    start = time.perf_counter()
    if numpy:
        sim.evolve_numpy(measured)
    else:
        sim.evolve(measured)
    seconds = time.perf_counter() - start
    steps = int(t_end / 0.00001)
    measured_steps = int(measured / 0.00001)
    return {
        "seconds": seconds * steps / measured_steps,
        "measured_seconds": seconds,
        "estimated": measured_steps != steps,
        "t_end": t_end,
        "measured_t_end": measured,
        "particle_steps": args.particles * steps,
        "measured_particle_steps": args.particles * measured_steps,
    }


# ----------------------------------------------------------------------- pi
# Chapters 7 and 8: Monte Carlo pi, a serial loop and NumPy.


def pi_serial(n, seed=2024):
    rng = random.Random(seed)
    hits = 0
    for i in range(n):
        x = rng.uniform(-1.0, 1.0)
        y = rng.uniform(-1.0, 1.0)
        if x**2 + y**2 <= 1:
            hits += 1
    return 4 * hits / n


def pi_numpy(n, seed=2024, chunk=10_000_000):
    import numpy as np

    np.random.seed(seed)
    hits = 0
    left = n
    # The book draws all samples at once; chunks of 1e7 keep 1e8 samples in
    # a few hundred MB instead of several GB (the same work per sample).
    while left > 0:
        m = min(left, chunk)
        x = np.random.uniform(-1.0, 1.0, m)
        y = np.random.uniform(-1.0, 1.0, m)
        hits += int(np.sum(x**2 + y**2 < 1.0))
        left -= m
    return 4 * hits / n


def pi(args, numpy):
    n = int(float(args.samples))
    measured = int(float(args.measure)) if args.measure else n
    start = time.perf_counter()
    estimate = pi_numpy(measured) if numpy else pi_serial(measured)
    seconds = time.perf_counter() - start
    assert abs(estimate - 3.14159) < 0.05, estimate
    return {
        "seconds": seconds * n / measured,
        "measured_seconds": seconds,
        "estimated": measured != n,
        "samples": n,
        "measured_samples": measured,
        "estimate": estimate,
    }


# ---------------------------------------------------------- distance matrix
# Chapter 3: broadcasting; N x N x 2 temporaries.


def distance_numpy(args):
    import numpy as np

    r = np.fromfile(args.points, dtype="<f8").reshape(-1, 2)
    start = time.perf_counter()
    d = np.sqrt(((r[:, np.newaxis, :] - r[np.newaxis, :, :])**2).sum(axis=-1))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "n": int(r.shape[0]), "check": float(d[0, -1])}


def make_points(args):
    import numpy as np

    rng = np.random.default_rng(1)
    rng.uniform(-1.0, 1.0, (args.n, 2)).astype("<f8").tofile(args.out)
    return {"n": args.n, "path": args.out}


# --------------------------------------------------------------- word count
# Chapter 8's MapReduce word count with a collections.Counter; words are runs
# of letters, lower-cased (as Impulse's wordcount job counts them).

WORD = re.compile(r"[^\W\d_]+")


def wordcount(args):
    start = time.perf_counter()
    counts = collections.Counter()
    size = 0
    with open(args.text, encoding="utf-8") as f:
        for line in f:
            size += len(line.encode("utf-8"))
            counts.update(WORD.findall(line.lower()))
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "bytes": size,
        "mib_per_s": size / seconds / 2**20,
        "distinct_words": len(counts),
        "total_words": sum(counts.values()),
    }


def make_text(args):
    """Zipf-distributed words from a 50,000-word vocabulary, like
    bench/analytics's generated text (some capitals, a little non-ASCII)."""
    import numpy as np

    rng = np.random.default_rng(3)
    letters = list("abcdefghijklmnopqrstuvwxyz") * 33 + ["é", "ü", "α", "д"]
    vocab = [
        "".join(rng.choice(letters, size=int(rng.integers(2, 13))))
        for _ in range(50_000)
    ]
    cdf = np.cumsum(1.0 / np.arange(1, len(vocab) + 1))
    cdf /= cdf[-1]
    vocab = np.array(vocab, dtype=object)
    capital = np.array([w.capitalize() for w in vocab], dtype=object)
    seps = np.array([" "] * 17 + ["\n", ", ", ". "], dtype=object)
    target = args.mib * 2**20
    written = 0
    with open(args.out, "w", encoding="utf-8") as f:
        while written < target:
            idx = np.minimum(np.searchsorted(cdf, rng.random(200_000)),
                             len(vocab) - 1)
            words = np.where(rng.random(200_000) < 0.1, capital[idx],
                             vocab[idx])
            chunk = "".join(words + seps[rng.integers(0, len(seps), 200_000)])
            f.write(chunk)
            written += len(chunk.encode("utf-8"))
    return {"bytes": written, "path": args.out}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("what")
    parser.add_argument("--particles", type=int, default=1000)
    parser.add_argument("--t_end", type=float, default=0.1)
    parser.add_argument("--measure_t_end", type=float, default=0)
    parser.add_argument("--samples", default="1e6")
    parser.add_argument("--measure", default="")
    parser.add_argument("--points")
    parser.add_argument("--text")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--mib", type=int, default=32)
    parser.add_argument("--out")
    args = parser.parse_args()
    table = {
        "particles_python": lambda: particles(args, numpy=False),
        "particles_numpy": lambda: particles(args, numpy=True),
        "pi_python": lambda: pi(args, numpy=False),
        "pi_numpy": lambda: pi(args, numpy=True),
        "distance_numpy": lambda: distance_numpy(args),
        "wordcount": lambda: wordcount(args),
        "make_points": lambda: make_points(args),
        "make_text": lambda: make_text(args),
    }
    if args.what not in table:
        parser.error("unknown: " + args.what)
    result = table[args.what]()
    result["what"] = args.what
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
