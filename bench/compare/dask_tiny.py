#!/usr/bin/python3
"""Many tiny tasks through Dask distributed: a LocalCluster with 2 worker
processes (one thread each), client.submit of a small pi task (1,000 samples,
NumPy) and result(), with `concurrency` tasks kept in flight, for a fixed time
per level. Prints one JSON object: jobs/s and latency percentiles per level,
measured like //bench:load (latency from submit to the result in hand).

  dask_tiny.py --concurrency 1,4,16,64 --seconds 3 --warmup 1

--also CMD runs CMD (a shell command; {clients} is replaced by the level)
after each Dask level, so another system measured at the same levels sees the
same machine conditions, interleaved rather than minutes apart.
"""
import argparse
import json
import logging
import math
import subprocess
import sys
import time
import warnings


def pi_task(samples, seed):
    import numpy as np

    xy = np.random.default_rng(seed).random((2, samples))
    hits = int(np.count_nonzero((xy * xy).sum(axis=0) <= 1.0))
    return 4.0 * hits / samples


def percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def run_level(client, concurrency, seconds, warmup, samples, seed0):
    from dask.distributed import as_completed

    seq = as_completed()
    starts = {}
    next_seed = [seed0]

    def submit():
        f = client.submit(pi_task, samples, next_seed[0], pure=False)
        next_seed[0] += 1
        starts[f.key] = time.perf_counter()
        seq.add(f)

    begin = time.perf_counter()
    counted_from = begin + warmup
    stop = begin + warmup + seconds
    for _ in range(concurrency):
        submit()
    latencies = []
    errors = 0
    last_end = counted_from
    for f in seq:
        now = time.perf_counter()
        start = starts.pop(f.key)
        try:
            f.result()
            ok = True
        except Exception:  # a failed task counts as an error
            ok = False
        if start >= counted_from:
            if ok:
                latencies.append(now - start)
                last_end = now
            else:
                errors += 1
        if now < stop:
            submit()
    latencies.sort()
    window = last_end - counted_from
    ms = lambda s: 1e3 * s
    return {
        "clients": concurrency,
        "ok": len(latencies),
        "errors": errors,
        "window_s": window,
        "jobs_per_s": len(latencies) / window if window > 0 else 0.0,
        "end_to_end_latency": {
            "p50_ms": ms(percentile(latencies, 0.50)),
            "p90_ms": ms(percentile(latencies, 0.90)),
            "p99_ms": ms(percentile(latencies, 0.99)),
            "max_ms": ms(latencies[-1]) if latencies else 0.0,
        },
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--concurrency", default="1,4,16,64")
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--also", default="")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("distributed").setLevel(logging.ERROR)
    import dask
    import distributed
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                           processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        # Warm the workers (imports, connections) before anything is timed.
        client.gather([client.submit(pi_task, args.samples, i, pure=False)
                       for i in range(50)])
        assert abs(client.submit(pi_task, 100000, 1).result() - math.pi) < 0.05
        levels = []
        for i, c in enumerate(int(x) for x in args.concurrency.split(",")):
            levels.append(run_level(client, c, args.seconds, args.warmup,
                                    args.samples, 1000 + i * 10_000_000))
            if args.also:
                subprocess.run(args.also.replace("{clients}", str(c)),
                               shell=True, check=False)
        out = {
            "dask": dask.__version__,
            "distributed": distributed.__version__,
            "workers": args.workers,
            "samples": args.samples,
            "levels": levels,
        }
    finally:
        client.close()
        cluster.close()
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
