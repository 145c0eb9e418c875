#!/usr/bin/python3
"""Inputs for scripts/bench.

usage: bench-gen.py text FILE MIB
	A UTF-8 text of MIB MiB: lines of words in English, French, German,
	Greek, Russian, Chinese and Japanese, and emoji (1- to 4-byte
	sequences), in 1 MiB blocks that each end on a character boundary.
	Prints its size and its character count.
usage: bench-gen.py map FILE TYPE N ARGS_JSON
	One job.map request over N items, all ARGS_JSON.
usage: bench-gen.py submit FILE N
	N job.submit requests (wait: true), each a tiny squares job over
	100 consecutive integers, k..k+99 for the k-th.
"""
import json
import random
import sys

WORDS = ("the quick brown fox jumps over the lazy dog while counting "
         "characters in huge files line by line").split() + \
    "déjà vu café naïve über straße Ärger façade crème brûlée".split() + \
    "αλφάβητο καλημέρα κόσμε Ελλάδα".split() + \
    "привет мир широкая электрификация южных губерний".split() + \
    "多线程 多进程 字符 计数 文件 巨大 日本語 テキスト".split() + \
    ["😀", "🚀", "🧵", "⚙️", "✅", "𝄞", "€", "€100"]


def text(path, mib):
    rnd = random.Random(7)
    block = bytearray()
    line = []
    size = 1 << 20
    while True:
        word = rnd.choice(WORDS)
        line.append(word)
        if len(line) >= rnd.randint(6, 16):
            chunk = (" ".join(line) + "\n").encode()
            line = []
            if len(block) + len(chunk) > size:
                break
            block += chunk
    block += b"." * (size - len(block) - 1) + b"\n"
    assert len(block) == size
    chars = len(block.decode("utf-8"))
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(block)
    print(size * mib, chars * mib)


def mapreq(path, jtype, n, args):
    a = json.loads(args)
    req = {"jsonrpc": "2.0", "id": 1, "method": "job.map",
           "params": {"type": jtype, "items": [a] * n}}
    with open(path, "w") as f:
        f.write(json.dumps(req, separators=(",", ":")) + "\n")


def submits(path, n):
    with open(path, "w") as f:
        for k in range(n):
            req = {"jsonrpc": "2.0", "id": k, "method": "job.submit",
                   "params": {"type": "squares",
                              "args": {"from": k, "to": k + 99},
                              "wait": True}}
            f.write(json.dumps(req, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "text" and len(sys.argv) == 4:
        text(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "map" and len(sys.argv) == 6:
        mapreq(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "submit" and len(sys.argv) == 4:
        submits(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)
