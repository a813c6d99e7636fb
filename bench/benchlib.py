"""What the executor benchmarks (bench_executor.py, bench_ipsec.py)
share: the cells of a row of their table, ours against ip -batch."""

import statistics


def mm(xs):
    """Milliseconds as min / median."""
    return "%d / %d" % (min(xs), statistics.median(xs))


def cells(reqs, ours, ipb, start):
    """The requests, ours, ip -batch, ratio of medians and start to
    commit cells of a row, from the runs' figures."""
    return ("/".join(sorted(set("%d" % n for n in reqs))), mm(ours),
            mm(ipb), "%.2fx" % (statistics.median(ours) /
                                statistics.median(ipb)), mm(start))
