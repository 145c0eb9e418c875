#!/usr/bin/python3
"""The seeds' squares, for scripts/bench: seeds/002's "calculate the
square numbers for all numbers from 1 to N, divide the numbers into equal
sized parts and use a process for each subset", with a Pool of PROCS
processes over PROCS equal parts; each part sums its squares.

usage: bench-squares.py FROM TO PROCS
Prints the sum on stdout and elapsed=SECONDS on stderr (pool and map).
"""
import sys

from timeit import default_timer as timer
from multiprocessing import Pool


def square_numbers(a, b):
    total = 0
    for i in range(a, b + 1):
        total += i * i
    return total


if __name__ == "__main__":
    lo, hi, procs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    step = (hi - lo + 1) // procs
    parts = [(lo + k * step, lo + (k + 1) * step - 1) for k in range(procs)]
    parts[-1] = (parts[-1][0], hi)
    start = timer()
    with Pool(procs) as pool:
        total = sum(pool.starmap(square_numbers, parts))
    end = timer()
    print(total)
    sys.stdout.flush()
    print("elapsed=%.6f count=%d sum=%d" % (end - start, hi - lo + 1, total),
          file=sys.stderr)
