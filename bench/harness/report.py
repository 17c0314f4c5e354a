"""Turning a run's raw figures into medians, ratios, a Markdown report and an SVG chart."""
import statistics
import textwrap
from xml.sax.saxutils import escape

FLOOR, NGINX, APACHE = "stub", "nginx", "apache-oidc"
CLIENT_LAG_LIMIT_US = 1000


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _per_round(rounds, name, pick):
    return [pick(r[name]) for r in rounds if name in r]


def _cpu_us_per_request(m):
    requests = m["throughput"]["requests"]
    return m["throughput"]["process"]["cpu_s"] * 1e6 / requests if requests else None


def _ratio_per_round(rounds, name, peer, pick):
    ratios = []
    for r in rounds:
        if name in r and peer in r:
            mine, theirs = pick(r[name]), pick(r[peer])
            if mine is not None and theirs:
                ratios.append(mine / theirs)
    return _median(ratios)


def load_range(results):
    """(lowest, highest) 1-minute load average seen at the end of the measurements."""
    loads = [m[run]["process"].get("loadavg_1m") for r in results["rounds"] for m in r.values()
             for run in ("throughput", "latency")]
    loads = [v for v in loads if v is not None]
    return (min(loads), max(loads)) if loads else (None, None)


def summarise(results):
    rounds = results["rounds"]
    rps = lambda m: m["throughput"]["rps"]
    summary = {}
    for t in results["targets"]:
        name = t["name"]
        if t["skipped"] or not any(name in r for r in rounds):
            continue
        row = {
            "rps": _median(_per_round(rounds, name, rps)),
            "cpu_us_per_req": _median(_per_round(rounds, name, _cpu_us_per_request)),
            "cpu_util": _median(_per_round(rounds, name, lambda m: m["throughput"]["process"]["cpu_util"])),
            "rss_mib": _median(_per_round(rounds, name, lambda m: m["throughput"]["process"]["max_rss_kib"] / 1024)),
            "errors": sum(_per_round(rounds, name, lambda m: m["throughput"]["non_2xx"]
                                     + sum(v for k, v in m["throughput"]["errors"].items() if k != "status")
                                     + m["latency"]["non_200"] + m["latency"]["unfinished"])),
            "rps_vs_nginx": _ratio_per_round(rounds, name, NGINX, rps),
            "rps_vs_apache": _ratio_per_round(rounds, name, APACHE, rps),
            "cpu_vs_nginx": _ratio_per_round(rounds, name, NGINX, _cpu_us_per_request),
            "cpu_vs_apache": _ratio_per_round(rounds, name, APACHE, _cpu_us_per_request),
            "rounds": sum(1 for r in rounds if name in r),
        }
        for p in ("p50", "p99", "p999"):
            row[p] = _median(_per_round(rounds, name, lambda m: m["latency"][f"{p}_us"]))
            added = [r[name]["latency"][f"{p}_us"] - r[FLOOR]["latency"][f"{p}_us"]
                     for r in rounds if name in r and FLOOR in r]
            row[f"added_{p}"] = _median(added) if name != FLOOR else None
        row["max_queue_wait_us"] = max(_per_round(rounds, name, lambda m: m["latency"]["max_queue_wait_us"]))
        row["client_lag_p99_us"] = _median(_per_round(rounds, name, lambda m: m["latency"].get("client_lag_p99_us")))
        if t["tokens"] == "rotate":
            row["fresh_token_share"] = _median(_per_round(rounds, name, lambda m: min(
                1.0, m["throughput"].get("distinct_tokens", 0) / max(1, m["throughput"]["requests"]))))
        summary[name] = row
    return summary


# --- Markdown ----------------------------------------------------------------------------------------

def _n(value, digits=0):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _number(value):
    """JMH writes "NaN" (a string) for the error of a run with too few iterations."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def _x(value):
    return "–" if value is None else f"{value:.2f}×"


def _load_warning(results):
    low, high = load_range(results)
    if high is None:
        return []
    text = (f"Machine load (1-min average) at the end of the measurements: {low:.1f}–{high:.1f}. "
            "The bench itself keeps about two CPUs busy (load generator and target)")
    if high > results["machine"]["cores"] + 1.5:
        return [text + "; more means other work shared the CPUs, and **these figures are noise**: re-run on an idle machine.", ""]
    return [text + ".", ""]


def markdown(results):
    m, st, summary = results["machine"], results["settings"], results["summary"]
    lines = [
        f"### Benchmark: {results['date_utc']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, Linux {m['kernel']}; "
        f"{m['java']}. Peers: {m['nginx']}; {m['apache']} with mod_auth_openidc {m['mod_auth_openidc']}; "
        f"{m['haproxy'].split(' - ')[0]}; {m['wrk'].split(' [')[0]}.",
        "",
        f"Command: `{results['command']}` ({st['rounds']} rounds, interleaved; medians). "
        f"Throughput: wrk, {st['connections']} connections, {st['duration']} s per target and round after "
        f"{st['warmup']} s of warm-up. Latency: open-loop client at {st['rate']:,} req/s for {st['rate_duration']} s, "
        f"counted from each request's scheduled send time. Every request is a ~1 KB `tools/call` with a bearer token. "
        f"Pinning (taskset): load generator and stub upstream on CPU {m['loadgen_cpus']}, the target alone on "
        f"CPU {m['proxy_cpus']}. Run time {results['runtime_s'] // 60} min {results['runtime_s'] % 60} s.",
        "",
        *_load_warning(results),
        "| Target | req/s | vs nginx | vs Apache | CPU µs/req | CPU vs nginx | CPU vs Apache | RSS MiB | errors |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    shown = [(t, summary[t["name"]]) for t in results["targets"] if t["name"] in summary]
    failed = [t for t in results["targets"] if t.get("failed_validation")]
    for t, row in shown:
        lines.append(
            f"| {t['name']} | {_n(row['rps'])} | {_x(row['rps_vs_nginx'])} | {_x(row['rps_vs_apache'])} "
            f"| {_n(row['cpu_us_per_req'], 1)} | {_x(row['cpu_vs_nginx'])} | {_x(row['cpu_vs_apache'])} "
            f"| {_n(row['rss_mib'])} | {row['errors']} |")
    for t in failed:
        lines.append(f"| {t['name']} | **failed validation: {escape(t['failed_validation'])}** "
                     "| – | – | – | – | – | – | – |")
    lines += [
        "",
        f"Latency at {st['rate']:,} req/s (open loop), in µs; +pXX is the target's pXX minus the stub's in the same round:",
        "",
        "| Target | p50 | p99 | p99.9 | +p50 | +p99 | +p99.9 |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    saturated = lagging = False
    for t, row in shown:
        mark = ""
        if row["rps"] is not None and row["rps"] < 1.1 * st["rate"]:
            mark, saturated = " †", True
        if (row.get("client_lag_p99_us") or 0) > CLIENT_LAG_LIMIT_US:
            mark, lagging = mark + " ‡", True
        lines.append(
            f"| {t['name']}{mark} | {_n(row['p50'])} | {_n(row['p99'])} | {_n(row['p999'])} "
            f"| {_n(row['added_p50'])} | {_n(row['added_p99'])} | {_n(row['added_p999'])} |")
    for t in failed:
        lines.append(f"| {t['name']} | **failed validation: {escape(t['failed_validation'])}** | – | – | – | – | – |")
    if saturated:
        lines += ["", f"† its maximum throughput here is below 1.1 × {st['rate']:,} req/s: at this rate it is "
                      "saturated and its latency is mostly queueing (lower RATE to compare it unsaturated)."]
    if lagging:
        lines += ["", f"‡ the load generator itself fell behind its schedule (p99 of its own lag above "
                      f"{CLIENT_LAG_LIMIT_US / 1000:.0f} ms: its CPU was busy with something else), so these latencies "
                      "measure the client as much as the target."]
    lines += [
        "",
        "req/s: maximum throughput (median over rounds); vs nginx / vs Apache: the ratio to that peer computed within "
        "each round, then the median (for CPU, below 1× means cheaper than the peer). CPU µs/req: the target's process tree's utime+stime (/proc) during the throughput run "
        "divided by the requests it served (the upstream stub's CPU is not included). RSS: largest resident set during "
        "the throughput run (summed over the target's processes). errors: non-2xx answers, socket errors and "
        "unanswered requests, all rounds and both runs. +pXX is the latency the proxy adds, including its own hop "
        "to the stub.",
        "",
    ]
    if not results["rounds"]:
        # ROUNDS=0 (e.g. only the idle-SSE benchmark or the cold start): no throughput or latency tables.
        start = next(i for i, line in enumerate(lines) if line.startswith("| Target | req/s"))
        lines = lines[:start] + ["No rounds (ROUNDS=0): nothing was measured under load.", ""]
    lines += validation_markdown(results["targets"])
    lines += ["| Target | what it is |", "|---|---|"]
    for t in results["targets"]:
        what = t["description"]
        if t["skipped"]:
            what += f" — **skipped**: {t['skipped']}"
        row = summary.get(t["name"])
        if row and "fresh_token_share" in row:
            what += f" (share of throughput requests with a never-seen token: {row['fresh_token_share']:.0%})"
        lines.append(f"| {t['name']} | {escape(what)} |")
    lines.append("")

    sse = results.get("idle_sse") or {}
    if "skipped" in sse:
        lines += [f"Idle SSE streams: skipped ({sse['skipped']}).", ""]
    elif sse:
        opened, done = sse.get("open") or {}, sse.get("done") or {}
        before, during = sse.get("before") or {}, sse.get("with_streams") or {}
        est = opened.get("established", 0)
        per_stream = ((during.get("rss_mib", 0) - before.get("rss_mib", 0)) * 1024 / est) if est else None
        per_stream = per_stream if per_stream is None or per_stream > 0 else None  # below the noise
        heap_per_stream = None
        if est and during.get("heap_mib_after_gc") is not None and before.get("heap_mib_after_gc") is not None:
            heap_per_stream = (during["heap_mib_after_gc"] - before["heap_mib_after_gc"]) * 1024 / est
        failures = ", ".join(f"{k}: {v}" for k, v in (opened.get("failures") or {}).items()) or "none"
        lines += [
            f"Idle SSE streams through one gateway ({sse['streams']:,} requested, held {sse['hold_s']} s, "
            f"upstream: nginx holding each stream open):",
            "",
            "| streams open | failed | still waiting | ended while held | RSS before | RSS with streams | RSS per stream "
            "| heap before | heap with streams | heap per stream |",
            "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
            f"| {est:,} | {opened.get('failed', 0):,} "
            f"| {opened.get('requested', 0) - est - opened.get('failed', 0):,} | {done.get('ended_while_held', '–')} "
            f"| {_n(before.get('rss_mib'))} MiB | {_n(during.get('rss_mib'))} MiB | {_n(per_stream, 1)} KiB "
            f"| {_n(before.get('heap_mib_after_gc'), 1)} MiB | {_n(during.get('heap_mib_after_gc'), 1)} MiB "
            f"| {_n(heap_per_stream, 1)} KiB |",
            "",
            (f"{sse['note']}. " if sse.get("note") else "")
            + f"Still waiting: no answer {opened.get('open_seconds', 0):.0f} s after the first stream was opened. "
            + (f"Heap and RSS with streams also hold the requests still waiting. "
               if opened.get("requested", 0) - est - opened.get("failed", 0) > 0 else "")
            + f"Failures while opening: {failures}. Heap: used after a full GC (`jcmd GC.heap_info`); "
            + "RSS per stream is left out when the difference is within the noise."
            + (" Gateway warnings: " + "; ".join(escape(e) for e in sse.get("gateway_errors", [])[:2])
               if sse.get("gateway_errors") else ""),
            "",
        ]
        lines += soak_markdown(sse)

    lines += cold_start_markdown(results.get("cold_start") or {})

    jmh = results.get("jmh") or {}
    if "skipped" in jmh:
        lines += [f"JMH: skipped ({jmh['skipped']}).", ""]
    elif jmh.get("results"):
        lines += [f"JMH microbenchmarks (`{st['jmh_args']}`, one thread, pinned to CPU {m['proxy_cpus']}):", "",
                  "| Benchmark | score | ± | unit |", "|---|--:|--:|---|"]
        for b in jmh["results"]:
            name = b["benchmark"].rsplit(".", 2)
            score = b["primaryMetric"]
            params = ", ".join(f"{k}={v}" for k, v in (b.get("params") or {}).items())
            unit = str(score.get("scoreUnit", "us/op")).replace("us/", "µs/")
            lines.append(f"| {name[-2]}.{name[-1]}{f' ({params})' if params else ''} | {_number(score['score']):.3f} "
                         f"| {_n(_number(score.get('scoreError')), 3)} | {unit} |")
        lines.append("")
    return "\n".join(lines)


def soak_markdown(sse):
    """The samples taken while the streams were held (SSE_HOLD > SSE_SAMPLE_EVERY), and the growth."""
    samples, growth = sse.get("samples") or [], sse.get("growth")
    if len(samples) < 2 or not growth:
        return []
    lines = [f"Idle SSE soak: the streams held {sse['hold_s']} s, sampled every "
             f"{sse.get('sample_every_s', 30)} s and just before the end (t: seconds since all streams were open):", "",
             "| t | RSS | heap after GC |", "|--:|--:|--:|"]
    for x in samples:
        lines.append(f"| {x['t_s']} s | {_n(x['rss_mib'], 1)} MiB | {_n(x['heap_mib_after_gc'], 1)} MiB |")
    lines += ["", f"Growth over {growth['over_s']} s: RSS {growth['rss_mib']:+.1f} MiB "
                  f"({growth.get('rss_mib_per_min', 0):+.2f} MiB/min), heap after GC "
                  f"{_n(growth.get('heap_mib_after_gc'), 1)} MiB ({growth.get('heap_mib_after_gc_per_min', 0):+.2f} MiB/min)"
              + (f"; after the first sample interval (over {later['over_s']} s): RSS {later['rss_mib']:+.1f} MiB, heap after GC "
                 f"{_n(later.get('heap_mib_after_gc'), 1)} MiB" if (later := growth.get("after_first_interval")) else "")
              + ". RSS growth that stops after the first interval is the heap's pages being touched for the first "
              "time; growth of the heap after GC, or of RSS that goes on, is what a leak looks like.", ""]
    return lines


COLD_START_TARGET_S = 1.5


def cold_start_markdown(cold):
    if not cold:
        return []
    if "skipped" in cold:
        return [f"Cold start: skipped ({cold['skipped']}).", ""]
    d = cold["default"]
    over = d["median_ready_s"] is not None and d["median_ready_s"] > COLD_START_TARGET_S
    marks = d.get("median_milestones_s") or {}
    phases = ", ".join(f"{name} {_n(v, 2)} s" for name, v in marks.items() if v is not None)
    lines = [f"Cold start to ready ({d['starts']} starts of `java {d['java_opts']} -jar portcullis.jar run`, "
             f"{cold.get('java', 'default JDK')}, pinned to CPU {cold.get('pinned_cpus')}; medians, from spawn):", "",
             "| JVM options | /readyz 200 | JVM CPU time by then | first proxied 200 | each start (/readyz) |",
             "|---|--:|--:|--:|---|"]
    for row in [d] + list(cold.get("variants") or []):
        lines.append(f"| {row['label']}: `{row['java_opts']}` | {_n(row['median_ready_s'], 2)} s "
                     f"| {_n(row.get('median_ready_cpu_s'), 2)} s "
                     f"| {_n(row['median_first_proxied_s'], 2)} s | {', '.join(_n(v, 2) for v in row['ready_s'])} |")
    lines += ["", f"Target: ≤ {COLD_START_TARGET_S} s to /readyz" + (" — **above it**" if over else " — met") + ". "
              + (f"Log milestones (median, from spawn): {phases}. " if phases else "")
              + "JVM CPU time: utime + stime of the gateway process (all threads) when /readyz first answered; "
              "a wall time well above it means the JVM waited for its CPU (other work on the machine).", ""]
    return lines


VALIDATION_COLUMNS = ["valid", "bad signature", "expired", "wrong audience", "missing scope"]


def validation_markdown(targets):
    """The validation gate's table: what each target answered to the bad tokens and the valid one."""
    checked = [t for t in targets if t.get("validation")]
    if not checked:
        return []
    lines = ["Validation before measuring (bench.py `validate_targets`): every authenticating target must refuse a "
             "token with a bad signature, an expired token and a token for another audience, and where it checks "
             "scopes (the policy mode) a token without the called tool's scope; every target must pass one valid "
             "request. n/a: the target does not check that (no authentication, or no scope check), not a pass.", "",
             "| Target | " + " | ".join(VALIDATION_COLUMNS) + " | measured |", "|---|" + "---|" * (len(VALIDATION_COLUMNS) + 1)]
    for t in checked:
        cells = []
        for c in VALIDATION_COLUMNS:
            value = t["validation"].get(c, "–")
            cells.append("n/a" if value.startswith("n/a") else escape(value.split(": ", 1)[0].rstrip(")") + ")"
                                                                       if ": " in value else value))
        verdict = f"**no: failed validation: {escape(t['failed_validation'])}**" if t.get("failed_validation") else "yes"
        name = t["name"] + (f" (misconfigured on purpose: {escape(t['misconfigured'])})" if t.get("misconfigured") else "")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {verdict} |")
    return lines + [""]


# --- SVG -----------------------------------------------------------------------------------------------

COLOURS = {"portcullis": "#1f6feb", "peer": "#8b949e", "floor": "#d0d7de"}
PCT_COLOURS = ["#54aeff", "#0969da", "#0a3069"]


def _colour(name):
    if name.startswith("portcullis"):
        return COLOURS["portcullis"]
    return COLOURS["floor"] if name == FLOOR else COLOURS["peer"]


def _bar_panel(title, rows, y, width, unit, digits=0):
    """Horizontal bars: rows = [(label, value, colour)]. Returns (svg parts, height)."""
    label_w, bar_h, gap = 190, 16, 6
    values = [v for _, v, _ in rows if v is not None]
    top = max(values) if values else 1
    scale = (width - label_w - 110) / top if top else 0
    parts = [f'<text x="10" y="{y + 16}" class="title">{escape(title)}</text>']
    yy = y + 28
    for label, value, colour in rows:
        parts.append(f'<text x="{label_w - 8}" y="{yy + 12}" class="label" text-anchor="end">{escape(label)}</text>')
        if value is not None:
            w = max(1, value * scale)
            parts.append(f'<rect x="{label_w}" y="{yy}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>')
            parts.append(f'<text x="{label_w + w + 6:.1f}" y="{yy + 12}" class="value">{value:,.{digits}f} {unit}</text>')
        else:
            parts.append(f'<text x="{label_w + 4}" y="{yy + 12}" class="value">–</text>')
        yy += bar_h + gap
    return parts, yy - y + 14


def _grouped_panel(title, rows, y, width, unit):
    """rows = [(label, [p50, p99, p999])]: three thin bars per target."""
    label_w, bar_h, gap = 190, 8, 8
    values = [v for _, vs in rows for v in vs if v is not None]
    top = max(values + [1])
    low = min(values + [0])
    zero_x = label_w + (-(low) / (top - low)) * (width - label_w - 110) if low < 0 else label_w
    scale = (width - label_w - 110) / (top - min(low, 0))
    parts = [f'<text x="10" y="{y + 16}" class="title">{escape(title)}</text>']
    legend_x = width - 250
    for i, name in enumerate(("p50", "p99", "p99.9")):
        parts.append(f'<rect x="{legend_x + i * 75}" y="{y + 6}" width="10" height="10" fill="{PCT_COLOURS[i]}"/>')
        parts.append(f'<text x="{legend_x + i * 75 + 14}" y="{y + 15}" class="value">+{name}</text>')
    yy = y + 28
    for label, vs in rows:
        parts.append(f'<text x="{label_w - 8}" y="{yy + 3 * bar_h / 2 + 4}" class="label" text-anchor="end">{escape(label)}</text>')
        for i, v in enumerate(vs):
            by = yy + i * bar_h
            if v is None:
                continue
            w = abs(v) * scale
            x = zero_x if v >= 0 else zero_x - w
            parts.append(f'<rect x="{x:.1f}" y="{by}" width="{max(1, w):.1f}" height="{bar_h - 1}" fill="{PCT_COLOURS[i]}"/>')
            parts.append(f'<text x="{max(x + w, zero_x) + 6:.1f}" y="{by + bar_h - 1}" class="small">{_duration(v)}</text>')
        yy += 3 * bar_h + gap
    parts.append(f'<line x1="{zero_x:.1f}" y1="{y + 26}" x2="{zero_x:.1f}" y2="{yy - gap + 2}" stroke="#57606a"/>')
    return parts, yy - y + 14


def _duration(us):
    if abs(us) >= 1e6:
        return f"{us / 1e6:,.2f} s"
    if abs(us) >= 1e4:
        return f"{us / 1e3:,.1f} ms"
    return f"{us:,.0f} µs"


def svg(results):
    width = 900
    summary = results["summary"]
    names = [t["name"] for t in results["targets"] if t["name"] in summary]
    st = results["settings"]
    header = (f"Portcullis benchmark, {results['date_utc']}: {results['machine']['cores']} cores, "
              f"medians of {st['rounds']} rounds")
    subheader = f"{results['command']}; target pinned alone on CPU {results['machine']['proxy_cpus']}"
    head_lines = [header] + textwrap.wrap(subheader, 110)
    parts, y = [], 14 + 16 * len(head_lines)
    panel, h = _bar_panel("Maximum throughput (requests/s, wrk, %d connections)" % st["connections"],
                          [(n, summary[n]["rps"], _colour(n)) for n in names], y, width, "req/s")
    parts += panel
    y += h
    panel, h = _bar_panel("CPU time per request of the target's processes (µs)",
                          [(n, summary[n]["cpu_us_per_req"], _colour(n)) for n in names], y, width, "µs", 1)
    parts += panel
    y += h
    latency_rows = [(n, [summary[n]["added_p50"], summary[n]["added_p99"], summary[n]["added_p999"]])
                    for n in names if n != FLOOR]
    panel, h = _grouped_panel(f"Latency added over the stub at {st['rate']:,} req/s (open loop, µs)",
                              latency_rows, y, width, "µs")
    parts += panel
    y += h
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y + 10}" viewBox="0 0 {width} {y + 10}" '
        f'font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif">',
        "<style>.title{font-size:14px;font-weight:600;fill:#24292f}.label{font-size:12px;fill:#24292f}"
        ".value{font-size:11px;fill:#57606a}.small{font-size:9px;fill:#57606a}.head{font-size:12px;fill:#57606a}</style>",
        f'<rect width="{width}" height="{y + 10}" fill="white"/>',
        *(f'<text x="10" y="{18 + 16 * i}" class="head">{escape(line)}</text>' for i, line in enumerate(head_lines)),
        *parts,
        "</svg>",
    ])


def write(results, results_dir):
    """summary.md and chart.svg from a results.json; returns (markdown, chart path)."""
    import os
    text = markdown(results)
    with open(os.path.join(results_dir, "summary.md"), "w") as f:
        f.write(text)
    chart = os.path.join(results_dir, "chart.svg")
    with open(chart, "w") as f:
        f.write(svg(results))
    return text, chart


if __name__ == "__main__":
    # Re-draw a run's summary.md and chart.svg:  python3 bench/harness/report.py bench/results/<run>
    import json
    import os
    import sys
    run_dir = sys.argv[1]
    with open(os.path.join(run_dir, "results.json")) as f:
        loaded = json.load(f)
    loaded["summary"] = summarise(loaded)
    print(write(loaded, run_dir)[0])
