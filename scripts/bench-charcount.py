#!/usr/bin/python3
"""The seeds' character count, for scripts/bench: seeds/000's
"Multi-processing line counting", one Process per file, each counting
the characters of its file with the seed's loop, the counts gathered in a
Manager list.

usage: bench-charcount.py FILE...
Prints the counts on stdout and elapsed=SECONDS on stderr, timed as the
seed times it (the Manager, the processes and the joins).
"""
import sys

from timeit import default_timer as timer
from multiprocessing import Process, Manager


def count_lines(counts_list, file):
    count = 0
    with open(file) as f:
        for line in f:
            for char in line:
                count += 1

    counts_list.append(count)


if __name__ == "__main__":
    file_list = sys.argv[1:]
    start = timer()
    with Manager() as manager:
        counts_list = manager.list()
        processes = []
        for file in file_list:
            proc = Process(target=count_lines, args=(counts_list, file))
            proc.start()
            processes.append(proc)
        for proc in processes:
            proc.join()

        print(list(counts_list))
        chars = sum(counts_list)
    end = timer()
    sys.stdout.flush()
    print("elapsed=%.6f chars=%d" % (end - start, chars), file=sys.stderr)
