"""What the executor benchmarks (bench_executor.py, bench_ipsec.py,
bench_masquerade.py) share: the cells of a row of their table, ours
against ip -batch."""

import statistics


def mm(xs):
    """Figures as min / median; "-" for none."""
    if not xs:
        return "-"
    return "%d / %d" % (min(xs), statistics.median(xs))


def distinct(xs):
    """The different counts among the runs', as 3 or 3/4."""
    return "/".join(sorted(set("%d" % n for n in xs)))


def cells(reqs, ours, ipb, start):
    """The requests, ours, ip -batch, ratio of medians and start to
    commit cells of a row, from the runs' figures."""
    return (distinct(reqs), mm(ours),
            mm(ipb), "%.2fx" % (statistics.median(ours) /
                                statistics.median(ipb)), mm(start))
