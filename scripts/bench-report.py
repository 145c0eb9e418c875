#!/usr/bin/python3
"""The table of scripts/bench: reads its results file (lines "run ID
SECONDS" and "fact NAME VALUE", tab-separated), prints the table and
writes it as Markdown.

usage: bench-report.py RESULTS OUTPUT.md
"""
import statistics
import sys


def load(path):
    runs, facts = {}, {}
    with open(path) as f:
        for line in f:
            kind, key, value = line.rstrip("\n").split("\t", 2)
            if kind == "run":
                runs.setdefault(key, []).append(float(value))
            else:
                facts[key] = value
    return runs, facts


def secs(t):
    if t >= 100:
        return "%.0f s" % t
    if t >= 10:
        return "%.1f s" % t
    if t >= 1:
        return "%.2f s" % t
    return "%.3f s" % t


def ratio(x):
    if x >= 100:
        return "%.0f×" % x
    if x >= 10:
        return "%.1f×" % x
    return "%.2f×" % x


def main():
    runs, facts = load(sys.argv[1])
    nproc = int(facts["nproc"])
    quick = facts["quick"] == "1"

    def med(key):
        return statistics.median(runs[key])

    def spread(key):
        v = runs[key]
        return "%s (%s–%s)" % (secs(statistics.median(v)),
                               secs(min(v)).replace(" s", ""), secs(max(v)))

    def scaled(part, whole, unit):
        if part == whole:
            return ""
        return " — measured on %s of %s %s, time scaled ×%g" % (
            part, whole, unit, whole / part)

    rows = []    # workload, jobd, baseline, baseline time, ratio, goal, met

    def row(workload, jkey, baseline, bkey, goal="", met=None,
            jtext=None):
        r = med(bkey) / med(jkey)
        rows.append([workload, jtext or spread(jkey), baseline, spread(bkey),
                     ratio(r), goal, met])
        return r

    def yes(ok):
        return "**met**" if ok else "**missed**"

    # 20 000 small fetches.
    w = "20 000 fetches of a 1 KiB page"
    pyn = int(facts["fetch_small.py_n"])
    r = row(w, "fetch_small.jobd", "curl --parallel --parallel-max 64",
            "fetch_small.curl", "≥ 1.0× curl", None)
    rows[-1][6] = yes(r >= 1.0)
    r = row(w, "fetch_small.jobd", "seeds' Python `ThreadPool(15)` "
            "(`from multiprocessing import Pool as ThreadPool`: 15 "
            "processes) + requests" + scaled(pyn, 20000, "fetches"),
            "fetch_small.py", "≥ 20× the Python pool")
    rows[-1][6] = yes(r >= 20)
    r = row(w, "fetch_small.jobd", "the same with real threads "
            "(`multiprocessing.pool.ThreadPool(15)`)" +
            scaled(pyn, 20000, "fetches"),
            "fetch_small.pythreads", "≥ 20× the Python pool")
    rows[-1][6] = yes(r >= 20)

    row(w, "fetch_small.jobd64", "curl --parallel --parallel-max 64, "
        "against jobd with `-o io.max_transfers=64` (curl's limit)",
        "fetch_small.curl", "", "", spread("fetch_small.jobd64") +
        " with 64 at once")

    # 2 000 fetches of the 100 ms endpoint.
    w = "2 000 fetches of a 100 ms endpoint"
    j = med("fetch_sleep.jobd")
    row(w, "fetch_sleep.jobd", "curl --parallel --parallel-max 1000 "
        "(curl caps it at 300)", "fetch_sleep.curl",
        "jobd ≤ 0.3 s (ideal 0.2 s)", yes(j <= 0.3))
    row(w, "fetch_sleep.jobd", "Python `multiprocessing.pool.ThreadPool"
        "(200)` (real threads) + requests", "fetch_sleep.pythreads", "",
        "")
    row(w, "fetch_sleep.jobd", "the seeds' code with a pool of 200 "
        "(`from multiprocessing import Pool as ThreadPool`: 200 "
        "processes)", "fetch_sleep.py", "", "")

    # charcount.
    w = "charcount of a 1 GiB UTF-8 text"
    gbps = int(facts["text_bytes"]) / med("charcount.jobd") / 1e9
    jt = "%s, %.1f GB/s" % (spread("charcount.jobd"), gbps)
    wcmib = int(facts["charcount.wc_mib"])
    pymib = int(facts["charcount.py_mib"])
    r = row(w, "charcount.jobd", "`wc -m` (C.UTF-8)" +
            scaled(wcmib, 1024, "MiB"), "charcount.wc",
            "≥ 8 GB/s; ≥ 50× `wc -m`", None, jt)
    rows[-1][6] = "%s; %s" % (yes(gbps >= 8), yes(r >= 50))
    row(w, "charcount.jobd", "seeds' Python char loop, one process per "
        "file" + scaled(pymib, 1024, "MiB"), "charcount.py", "", "",
        jt)
    mm = int(facts["text_bytes"]) / med("charcount.mmap") / 1e9
    row(w, "charcount.jobd", "plain single-process mmap read in C "
        "(%.1f GB/s: the memory limit of one core)" % mm,
        "charcount.mmap", "", "", jt)

    # squares.
    w = "squares over 1..2^32 (the issue's 1..10^10 is outside the " \
        "protocol's \\|x\\| ≤ 2^32)"
    pyto = int(facts["squares.py_to"])
    r = row(w, "squares.jobd", "seeds' Python `Pool(2)` over equal parts" +
            scaled(pyto, 4294967296, "numbers"), "squares.py",
            "≥ 50× the Python pool")
    rows[-1][6] = yes(r >= 50)
    r = row(w, "squares.jobd", "single-threaded C loop (`-O2`)",
            "squares.cloop", "near %d cores × the C loop (≥ %.1f×)" %
            (nproc, 0.8 * nproc))
    rows[-1][6] = yes(r >= 0.8 * nproc)

    # Tiny CPU jobs.
    w = "100 000 tiny CPU jobs (squares over 100 integers) from one client"
    rate = 100000 / med("tiny.jobd")
    jt = "%s, %.0f jobs/s" % (spread("tiny.jobd"), rate)
    pyn = int(facts["tiny.py_n"])
    row(w, "tiny.jobd", "Python `ProcessPoolExecutor(2)`, submitting one "
        "by one" + scaled(pyn, 100000, "jobs"), "tiny.py",
        "≥ 100 000 jobs/s", yes(rate >= 100000), jt)
    maprate = 100000 / med("tiny.jobdmap")
    rows.append([w + ", as one `job.map`", "%s, %.0f jobs/s" %
                 (spread("tiny.jobdmap"), maprate),
                 "(the same jobs through `job.map`)", "", "", "", ""])

    # Memory.
    idle = int(facts["idle_VmRSS_kb"])
    anon = int(facts["idle_RssAnon_kb"])
    pss = int(facts["idle_Pss_kb"])
    inflight = int(facts["inflight"])
    peak = int(facts["inflight_VmRSS_kb"])
    per = (peak - idle) / inflight
    rows.append(["daemon memory, idle", "RSS %.1f MiB (anonymous %.1f MiB, "
                 "file-backed %.1f MiB; PSS %.1f MiB); %s workers %.1f MiB "
                 "RSS in all" % (idle / 1024, anon / 1024,
                                 int(facts["idle_RssFile_kb"]) / 1024,
                                 pss / 1024, facts["workers"],
                                 int(facts["workers_VmRSS_kb"]) / 1024),
                 "—", "", "", "RSS ≤ 10 MiB", yes(idle <= 10240)])
    rows.append(["daemon memory, %d transfers in flight" % inflight,
                 "RSS %.1f MiB: %.1f KiB per transfer" % (peak / 1024, per),
                 "—", "", "", "≤ 50 KiB per transfer", yes(per <= 50)])

    head = ["workload", "jobd: median (min–max)", "baseline",
            "baseline: median (min–max)", "jobd speed-up", "goal",
            "goal met?"]
    out = []
    out.append("# jobd benchmarks")
    out.append("")
    out.append("Generated by `%s` on %s." % (facts["command"], facts["date"]))
    out.append("")
    out.append("Machine: %s CPUs (%s), %s RAM, Linux %s. %s." % (
        nproc, facts["cpu"], facts["mem"], facts["kernel"],
        facts["versions"]))
    out.append("")
    bs, be = int(facts["busy_start"]), int(facts["busy_end"])
    out.append("Other work on the machine: %d%% of its CPU time in the "
               "second before the benchmark, %d%% in the second after%s." %
               (bs, be, "" if max(bs, be) < 5 else
                " (shared machine: expect wider spreads than on an idle "
                "one)"))
    out.append("")
    out.append("Each measurement was run %s times; times are medians with "
               "the range of the runs. *jobd speed-up* is the baseline's "
               "median time over jobd's (above 1× jobd is faster)." %
               facts["reps"])
    out.append("")
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    prev = [None, None]
    for r in rows:
        cells = list(r)
        for i in (0, 1):
            if cells[i] == prev[i] and (i == 0 or cells[0] == "〃"):
                cells[i] = "〃"
            else:
                prev[i] = cells[i]
        cells = [c if c is not None else "" for c in cells]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("How it was measured:")
    out.append("")
    out.append("- A private nginx on 127.0.0.1 (1 worker process; a 1 KiB "
               "page, a 64 KiB file, `echo_sleep` endpoints of 100 ms and "
               "3 s) and jobd from the build tree on a temporary socket "
               "with `%s`, its default CFLAGS `%s`, and one CPU worker "
               "per core. Each workload starts a fresh daemon (so none "
               "runs among the retained results of another); its runs "
               "follow one another on it." % (facts["jobd_opts"].replace(
                   facts["tmp"], "$TMP"), facts["jobd_cflags"]))
    out.append("- jobd is driven by `tests/bench_client`, a C client that "
               "sends the requests pipelined on one connection and times "
               "from its connect to the last byte of the last answer; "
               "every answer is checked afterwards (every job done; the "
               "counts and sums equal the baselines'). The fetches are "
               "one `job.map`; the tiny jobs are 100 000 pipelined "
               "`job.submit` with `wait: true` (the client used %s s of "
               "CPU per run of those: it is not the bottleneck)." %
               facts.get("client_cpu.tiny.jobd", "?"))
    out.append("- The Python baselines (`scripts/bench-*.py`, Debian's "
               "python3 and python3-requests) are the seeds' code, timed "
               "as the seeds time it (`timeit.default_timer` around the "
               "pool's work). Where one ran a part of the workload (said "
               "in the table), its time is multiplied up.")
    out.append("- `wc -m` and curl are timed from their start to their "
               "exit; the C baselines time themselves. The text file (1 "
               "MiB blocks of words in seven scripts and emoji, 1- to "
               "4-byte UTF-8 sequences, %s characters) is in the page "
               "cache, and jobd and the mmap read each had one run not "
               "counted before theirs." % facts["text_chars"])
    out.append("- Memory: VmRSS of the daemon's main process, idle just "
               "after its start, and while one `job.map` holds %d "
               "fetches of the 3 s endpoint in flight "
               "(`daemon.status` `pools.io.in_flight`); the per-transfer "
               "figure is the growth over idle divided by the transfers, "
               "and includes their job records." % inflight)
    if quick:
        out.append("- `--quick`: 3 runs each, and the slowest baselines "
                   "on parts of their inputs.")
    out.append("")
    text = "\n".join(out)
    with open(sys.argv[2], "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
