#!/usr/bin/python3
"""Tiny CPU jobs through the seeds' ProcessPoolExecutor, for
scripts/bench: seeds/001's `with ProcessPoolExecutor(max_workers=2) as
pool: pool.submit(...)`, submitting N jobs one by one, each summing the
squares of 100 consecutive integers (the same jobs scripts/bench sends to
jobd), then collecting every result.

usage: bench-tiny.py N WORKERS
Prints elapsed=SECONDS on stderr (executor start to the last result).
"""
import sys

from timeit import default_timer as timer
from concurrent.futures import ProcessPoolExecutor


def complex_function(a, b):
    total = 0
    for i in range(a, b + 1):
        total += i * i
    return total


if __name__ == "__main__":
    n, workers = int(sys.argv[1]), int(sys.argv[2])
    start = timer()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(complex_function, k, k + 99)
                   for k in range(n)]
        results = [f.result() for f in futures]
    end = timer()
    print("elapsed=%.6f n=%d jobs_per_s=%.0f" % (end - start, n,
          n / (end - start)), file=sys.stderr)
