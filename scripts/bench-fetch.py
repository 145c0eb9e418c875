#!/usr/bin/python3
"""The seeds' fetch pool, for scripts/bench: N GETs of one URL with
requests through `from multiprocessing import Pool as ThreadPool` and
pool.starmap(download, enum), as in seeds/000 (whose "ThreadPool" is in
fact multiprocessing.Pool, a pool of processes). --threads uses
multiprocessing.pool.ThreadPool, real threads, instead.

usage: bench-fetch.py [--threads] URL N POOLSIZE
Prints the seed's lines on stdout and elapsed=SECONDS on stderr, timed as
the seed times it (pool creation and starmap).
"""
import sys

import requests
from timeit import default_timer as timer

if len(sys.argv) > 1 and sys.argv[1] == "--threads":
    from multiprocessing.pool import ThreadPool
    del sys.argv[1]
else:
    from multiprocessing import Pool as ThreadPool


def download(index, url):
    requests.get(url)
    print(index, url)


if __name__ == "__main__":
    url, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    enum = [(x, url) for x in range(n)]
    start = timer()
    pool = ThreadPool(size)
    pool.starmap(download, enum)
    end = timer()
    pool.close()
    sys.stdout.flush()
    print("elapsed=%.6f n=%d pool=%d" % (end - start, n, size),
          file=sys.stderr)
