"""The links of a NetnsCluster as bench_distributed.py shapes them: what each run finds (how the
link was made, its ping round trip and the rate of one TCP stream), and --probe-links, which
measures the links alone: round trips, one stream, and the ring's K streams at once, with and
without the delay."""
from __future__ import annotations

import math
import os
import statistics
from dataclasses import dataclass
from typing import Optional

from tqdm import tqdm

from lib import bench_common
from lib.caffe_tools import ScriptError
from lib.netns_cluster import Link, NetnsCluster, Shaping

PROBE_SECONDS = 1.0  # of each TCP stream measured on a shaped link before the runs
PROBE_LINKS_SECONDS = 2.0  # of each TCP stream of --probe-links


@dataclass(frozen=True)
class LinkState:
    """A link as the runs found it: how it was made and what it measured once shaped (ping
    round trip and one TCP stream between ranks 0 and 1; None on the loopback)."""
    topology: str
    delay_ms: float
    delay_method: Optional[str]  # "netem", "userspace-relay", or None (no delay)
    rtt_ms: Optional[float] = None
    stream_mbit: Optional[float] = None


LOOPBACK = LinkState("loopback", 0.0, None)


def describe(link: Link, shaping: Shaping, cluster: NetnsCluster) -> str:
    rate = f"{link.mbit:g} Mbit/s each way (tbf)" if link.mbit else "unshaped"
    if shaping.delay_method == "netem":
        return f"{rate}, +{shaping.delay_ms:g} ms on each rank's upload (netem), bridge"
    if shaping.delay_method == "userspace-relay":
        return (f"{rate}, +{shaping.delay_ms:g} ms on each rank's upload by the user-space "
                f"relay in the bridge's place (no netem; {cluster.relay_scheduling} "
                f"scheduling)")
    return f"{rate}, no delay, bridge"


def shape_and_probe(cluster: NetnsCluster, link: Link) -> LinkState:
    """Shapes the cluster's links and measures them between ranks 0 and 1."""
    try:
        shaping = cluster.shape(link)
        rtts = cluster.ping(0, 1, count=20)
        stream, = cluster.streams([(0, 1)], PROBE_SECONDS)
    except RuntimeError as error:
        raise ScriptError(f"shaping the links failed: {error}") from error
    if not stream.intact or not rtts:
        raise ScriptError(f"{describe(link, shaping, cluster)}: the link lost or changed data "
                          f"(pings answered: {len(rtts)}, stream intact: {stream.intact})")
    state = LinkState(f"netns-{shaping.switch}", shaping.delay_ms, shaping.delay_method,
                      round(statistics.median(rtts), 3), round(stream.mbit, 1))
    tqdm.write(f"links: {describe(link, shaping, cluster)}; ranks 0 -> 1: ping "
               f"{state.rtt_ms:.3f} ms, one TCP stream {state.stream_mbit:g} Mbit/s")
    return state


def probe_links(cluster: NetnsCluster, links: list[Link], repeats: int) -> list[dict]:
    """Each link with its delay and without one, `repeats` times: the round trips of 500 pings
    (every 10 ms) from rank 0 to rank 1, one TCP stream 0 -> 1, then a ring of K streams at once
    (rank r to r + 1, as the sync's allgather sends)."""
    ranks = len(cluster.hosts)
    plan = [(Link(link.mbit, delay), repeat) for repeat in range(repeats) for link in links
            for delay in sorted({link.delay_ms, 0.0}, reverse=True)]
    rows = []
    for link, repeat in tqdm(plan, desc="links", unit="link"):
        try:
            shaping = cluster.shape(link)
            rtts = sorted(cluster.ping(0, 1, count=500, interval_s=0.01))
            one, = cluster.streams([(0, 1)], PROBE_LINKS_SECONDS)
            ring = cluster.streams([(r, (r + 1) % ranks) for r in range(ranks)],
                                   PROBE_LINKS_SECONDS)
        except RuntimeError as error:
            raise ScriptError(f"probing the links failed: {error}") from error
        if not rtts:
            raise ScriptError(f"{describe(link, shaping, cluster)}: no ping answered")
        rows.append({"repeat": repeat, "topology": f"netns-{shaping.switch}",
                     "link_mbit": link.mbit,
                     "delay_ms": shaping.delay_ms, "delay_method": shaping.delay_method,
                     "relay_scheduling": cluster.relay_scheduling if shaping.switch == "relay"
                     else None, "pings": len(rtts), "lost": 500 - len(rtts),
                     "rtt_ms_min": rtts[0], "rtt_ms_median": round(statistics.median(rtts), 4),
                     "rtt_ms_p99": rtts[math.ceil(0.99 * len(rtts)) - 1],
                     "one_stream_mbit": round(one.mbit, 1),
                     "ring_K": ranks, "ring_streams_mbit": [round(s.mbit, 1) for s in ring],
                     "intact": one.intact and all(s.intact for s in ring),
                     "load_1min": round(os.getloadavg()[0], 2)})
    return rows


def report_probes(rows: list[dict]) -> None:
    bench_common.print_table(
        ["Mbit/s", "delay ms", "how", "RTT min", "RTT median", "RTT p99", "lost",
         "one stream Mbit/s", "ring streams Mbit/s", "intact", "load"],
        [[r["link_mbit"] or "unshaped", r["delay_ms"], r["delay_method"] or "-", r["rtt_ms_min"],
          r["rtt_ms_median"], r["rtt_ms_p99"], r["lost"], r["one_stream_mbit"],
          " ".join(f"{m:g}" for m in r["ring_streams_mbit"]), r["intact"], r["load_1min"]]
         for r in rows])
