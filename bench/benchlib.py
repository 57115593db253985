#!/usr/bin/env python3
"""Helpers for bench/run.sh (Python 3 standard library only).

Subcommands:
  seed      generate a reproducible mailbox and APPEND it (pipelined, LITERAL+) to accounts
  snapshot  LIST + EXAMINE + FETCH (FLAGS INTERNALDATE RFC822.SIZE) of an account -> JSON
  compare   compare a destination snapshot with the source snapshot
  cpu       CPU seconds used so far by processes and their (reaped and live) children
  report    render the results table (stdout and a markdown file)

The generated mailbox depends only on --messages, --folders, --big and --seed.
"""

import argparse
import base64
import collections
import datetime
import imaplib
import json
import os
import random
import re
import ssl
import sys
import threading
import time

# ---------------------------------------------------------------------------------------------
# Generation

FOLDER_TREE = [
    ("INBOX",),
    ("Sent",),
    ("Drafts",),
    ("Archive",),
    ("Archive", "2019"),
    ("Archive", "2020"),
    ("Archive", "2020", "Q1"),
    ("Archive", "2020", "Q2"),  # left empty: every tool must still create it
    ("Projects",),
    ("Projects", "alpha"),
    ("Projects", "alpha", "specs"),
    ("Projects", "beta"),
    ("Lists",),
    ("Lists", "rust-users"),
    ("Lists", "debian-devel"),
    ("Receipts",),
    ("Travel",),
    ("Family Photos",),
    ("Work",),
    ("Work", "Reports"),
]
EMPTY_FOLDER = ("Archive", "2020", "Q2")

WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which "
    "but have an they you were her she there been one all we their has would when if more no "
    "out so said what up its about into than them can only other new some could time these two "
    "may then do first any my now such like our over man me even most made after also did many "
    "before must through back years where much your way well down should because each just "
    "mailbox folder server message copy invoice meeting report draft review release budget "
    "schedule travel ticket hotel family photo project alpha beta milestone deadline"
).split()
UTF8_WORDS = ["Grüße", "naïve", "café", "Ærø", "señor", "Zürich", "résumé", "смотри", "日本語"]
TIMEZONES = ["+0000", "+0100", "+0200", "-0500", "+0530", "-0800", "+0900", "-0330"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
BIG_SIZE = 2 * 1024 * 1024


def folder_list(n):
    tree = list(FOLDER_TREE[:n])
    for i in range(len(tree), n):
        tree.append(("Extra", "f%03d" % i) if i > len(FOLDER_TREE) else ("Extra",))
    return tree


def text_lines(rng, nbytes, utf8=False):
    """CRLF text of about nbytes, lines of at most ~76 chars."""
    out, size, line = [], 0, []
    linelen = 0
    while size < nbytes:
        w = rng.choice(UTF8_WORDS) if utf8 and rng.random() < 0.05 else rng.choice(WORDS)
        if linelen + len(w) + 1 > 72:
            s = " ".join(line) + "\r\n"
            out.append(s)
            size += len(s.encode())
            line, linelen = [], 0
        line.append(w)
        linelen += len(w) + 1
    if line:
        out.append(" ".join(line) + "\r\n")
    return "".join(out)


def b64_lines(data):
    enc = base64.b64encode(data)
    return b"".join(enc[i:i + 76] + b"\r\n" for i in range(0, len(enc), 76))


def message_size(rng):
    r = rng.random()
    if r < 0.6:
        return rng.randint(1024, 10 * 1024)
    if r < 0.9:
        return rng.randint(10 * 1024, 50 * 1024)
    return rng.randint(50 * 1024, 200 * 1024)


def make_message(rng, i, folder, target, when, tz):
    utf8 = rng.random() < 0.15
    frm = "%s %s <%s%d@sender%d.example>" % (
        rng.choice(["Ana", "Bob", "Chen", "Dana", "Émile", "Femi", "Gita"]),
        rng.choice(["Lopez", "Smith", "Wang", "Okafor", "Müller"]),
        rng.choice(["ana", "bob", "chen", "dana", "emile"]), i % 97, i % 13)
    subject = "%s #%d: %s" % ("/".join(folder), i, " ".join(rng.choice(WORDS) for _ in range(5)))
    date_hdr = "%s, %d %s %d %02d:%02d:%02d %s" % (
        DAYS[when.weekday()], when.day, MONTHS[when.month - 1], when.year,
        when.hour, when.minute, when.second, tz)
    head = [
        "Return-Path: <bounce%d@sender.example>" % i,
        "Received: from mx%d.sender.example (mx.sender.example [192.0.2.%d])\r\n"
        "\tby mx.bench.test with ESMTPS id %08x\r\n\tfor <owner@bench.test>; %s"
        % (i % 7, i % 250 + 1, rng.getrandbits(32), date_hdr),
        "From: " + (frm if not utf8 else "=?UTF-8?Q?=C3=89mile_M=C3=BCller?= <emile@sender.example>"),
        "To: Owner <owner@bench.test>",
        "Subject: " + subject,
        "Date: " + date_hdr,
        "Message-ID: <bench-%06d.%08x@bench.test>" % (i, rng.getrandbits(32)),
        "MIME-Version: 1.0",
    ]
    charset = "utf-8" if utf8 else "us-ascii"
    cte = "8bit" if utf8 else "7bit"
    if target < 6000:
        head.append("Content-Type: text/plain; charset=%s" % charset)
        head.append("Content-Transfer-Encoding: %s" % cte)
        raw = ("\r\n".join(head) + "\r\n\r\n").encode()
        raw += text_lines(rng, max(200, target - len(raw)), utf8).encode()
        return raw
    boundary = "=_bench_%06d_%08x" % (i, rng.getrandbits(32))
    head.append('Content-Type: multipart/mixed; boundary="%s"' % boundary)
    text = text_lines(rng, rng.randint(800, 4000), utf8)
    pre = ("\r\n".join(head) + "\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n"
           "--%s\r\nContent-Type: text/plain; charset=%s\r\nContent-Transfer-Encoding: %s\r\n\r\n%s\r\n"
           "--%s\r\nContent-Type: application/octet-stream; name=\"file%d.bin\"\r\n"
           "Content-Disposition: attachment; filename=\"file%d.bin\"\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n"
           % (boundary, charset, cte, text, boundary, i, i)).encode()
    post = ("\r\n--%s--\r\n" % boundary).encode()
    remaining = max(300, target - len(pre) - len(post))
    nraw = remaining * 57 // 78  # base64 with 76-char lines + CRLF
    return pre + b64_lines(rng.randbytes(nraw)) + post


def generate(messages, folders, big, seed):
    """Returns (folders, [(folder, flags, internaldate, raw)]) — identical for identical args."""
    rng = random.Random(seed)
    tree = folder_list(folders)
    weights = []
    for f in tree:
        if f == EMPTY_FOLDER:
            weights.append(0)
        elif f == ("INBOX",):
            weights.append(8)
        elif f == ("Drafts",):
            weights.append(0.3)
        else:
            weights.append(rng.choice([0.5, 1, 1, 2, 3]))
    big_set = set(rng.sample(range(messages), min(big, messages)))
    start = datetime.datetime(2012, 1, 1)
    span = int((datetime.datetime(2025, 1, 1) - start).total_seconds())
    out = []
    for i in range(messages):
        folder = rng.choices(tree, weights)[0]
        target = BIG_SIZE if i in big_set else message_size(rng)
        when = start + datetime.timedelta(seconds=rng.randrange(span))
        tz = rng.choice(TIMEZONES)
        flags = []
        if folder == ("Drafts",):
            flags.append("\\Draft")
        elif rng.random() < 0.7:
            flags.append("\\Seen")
        if rng.random() < 0.15:
            flags.append("\\Answered")
        if rng.random() < 0.08:
            flags.append("\\Flagged")
        for kw, p in (("$Forwarded", 0.05), ("$MDNSent", 0.02), ("Work", 0.05),
                      ("$label1", 0.03), ("Later-2024", 0.02)):
            if rng.random() < p:
                flags.append(kw)
        idate = "%02d-%s-%04d %02d:%02d:%02d %s" % (
            when.day, MONTHS[when.month - 1], when.year, when.hour, when.minute, when.second, tz)
        raw = make_message(rng, i, folder, target, when, tz)
        out.append((folder, flags, idate, raw))
    return tree, out


# ---------------------------------------------------------------------------------------------
# IMAP

def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox_name(parts, prefix, sep):
    if parts == ("INBOX",) or list(parts) == ["INBOX"]:
        return "INBOX"
    return prefix + sep.join(parts)


def connect(args, user=None, password=None):
    ctx = ssl.create_default_context(cafile=args.ca)
    if args.security == "imaps":
        m = imaplib.IMAP4_SSL(args.host, args.port, ssl_context=ctx, timeout=120)
    else:
        m = imaplib.IMAP4(args.host, args.port, timeout=120)
        m.starttls(ssl_context=ctx)
    m.login(user, password)
    return m


def append_pipelined(m, items, window=32):
    """APPEND every (mailbox, flags, date, raw) with LITERAL+, at most `window` in flight."""
    typ, caps = m.capability()
    literal_plus = b"LITERAL+" in caps[0].upper().split()
    if not literal_plus:
        for mbox, flags, date, raw in items:
            typ, data = m.append(quote(mbox), "(" + " ".join(flags) + ")", '"' + date + '"', raw)
            if typ != "OK":
                raise RuntimeError("APPEND refused: %r" % data)
        return
    pending = set()

    def read_one():
        line = m.readline()
        if not line:
            raise RuntimeError("connection closed during APPEND")
        tag, _, rest = line.partition(b" ")
        if tag in pending:
            pending.discard(tag)
            if not rest.startswith(b"OK"):
                raise RuntimeError("APPEND refused: %r" % line)

    for n, (mbox, flags, date, raw) in enumerate(items):
        tag = b"S%06d" % n
        cmd = b"%s APPEND %s (%s) \"%s\" {%d+}\r\n" % (
            tag, quote(mbox).encode(), " ".join(flags).encode(), date.encode(), len(raw))
        m.send(cmd + raw + b"\r\n")
        pending.add(tag)
        while len(pending) >= window:
            read_one()
    while pending:
        read_one()


def cmd_seed(args):
    t0 = time.monotonic()
    tree, msgs = generate(args.messages, args.folders, args.big, args.seed)
    gen_s = time.monotonic() - t0
    total = sum(len(r) for _, _, _, r in msgs)
    accounts = [a.split(":", 1) for a in args.account]
    errors = []

    def seed_one(user, password):
        try:
            m = connect(args, user, password)
            for parts in tree:
                if parts != ("INBOX",):
                    typ, data = m.create(quote(mailbox_name(parts, args.prefix, args.sep)))
                    if typ != "OK":
                        raise RuntimeError("CREATE %s: %r" % (parts, data))
            items = [(mailbox_name(f, args.prefix, args.sep), fl, d, r) for f, fl, d, r in msgs]
            append_pipelined(m, items)
            m.logout()
        except Exception as e:  # reported by the main thread
            errors.append("%s: %s" % (user, e))

    threads = [threading.Thread(target=seed_one, args=(u, p)) for u, p in accounts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("seed failed: " + "; ".join(errors))
    print("generated %d messages (%.1f MB) in %d folders in %.1f s; appended to %d accounts in %.1f s"
          % (len(msgs), total / 1e6, len(tree), gen_s, len(accounts), time.monotonic() - t0 - gen_s))


LIST_RE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?P<delim>NIL|"(?:[^"\\]|\\.)*") (?P<name>.*)$')
FETCH_RE = re.compile(rb"FLAGS \((?P<flags>[^)]*)\)|INTERNALDATE \"(?P<date>[^\"]*)\"|RFC822\.SIZE (?P<size>\d+)")


def unquote(b):
    s = b.decode()
    if s.startswith('"') and s.endswith('"'):
        s = s[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return s


def date_epoch(d):
    return int(datetime.datetime.strptime(d, "%d-%b-%Y %H:%M:%S %z").timestamp())


def cmd_snapshot(args):
    m = connect(args, args.user, args.password)
    typ, data = m.list('""', "*")
    names = []
    for line in data:
        if isinstance(line, tuple):  # name sent as a literal
            head, lit = line
            mt = LIST_RE.match(head.rstrip() + b' ""')
            attrs, name = mt.group("attrs"), lit.decode()
        else:
            mt = LIST_RE.match(line)
            if not mt:
                raise RuntimeError("unparsed LIST line %r" % line)
            attrs, name = mt.group("attrs"), unquote(mt.group("name"))
        a = attrs.lower()
        if b"\\noselect" in a or b"\\nonexistent" in a:
            continue
        names.append(name)
    folders = {}
    for name in sorted(names):
        if name.upper() == "INBOX":
            key = "INBOX"
        else:
            rel = name[len(args.prefix):] if name.startswith(args.prefix) else name
            key = "/".join(rel.split(args.sep))
        typ, data = m.select(quote(name), readonly=True)
        if typ != "OK":
            raise RuntimeError("EXAMINE %s: %r" % (name, data))
        count = int(data[0])
        msgs = []
        if count:
            typ, data = m.fetch("1:*", "(FLAGS INTERNALDATE RFC822.SIZE)")
            for item in data:
                if isinstance(item, tuple):
                    item = item[0]
                if item is None:
                    continue
                flags, date, size = [], None, 0
                for mt in FETCH_RE.finditer(item):
                    if mt.group("flags") is not None:
                        flags = [f for f in mt.group("flags").decode().split() if f.lower() != "\\recent"]
                    elif mt.group("date") is not None:
                        date = date_epoch(mt.group("date").decode())
                    else:
                        size = int(mt.group("size"))
                sysf = sorted(f.lower() for f in flags if f.startswith("\\"))
                kw = sorted(f.lower() for f in flags if not f.startswith("\\"))
                msgs.append([date, " ".join(sysf), " ".join(kw), size])
        folders[key] = {"count": count, "messages": sorted(msgs, key=lambda x: [str(v) for v in x])}
    m.logout()
    json.dump({"user": args.user, "folders": folders}, sys.stdout)


def totals(snap):
    n = sum(f["count"] for f in snap["folders"].values())
    b = sum(m[3] for f in snap["folders"].values() for m in f["messages"])
    return n, b


def cmd_compare(args):
    src = json.load(open(args.source))
    dst = json.load(open(args.dest))
    problems, notes = [], []
    same_dates = same_sys = same_kw = same_size = True
    for key, f in src["folders"].items():
        d = dst["folders"].get(key)
        if d is None:
            problems.append("missing folder %s" % key)
            continue
        if d["count"] != f["count"]:
            problems.append("%s: %d messages, source has %d" % (key, d["count"], f["count"]))
            continue
        proj = lambda msgs, i: sorted(str(m[i]) for m in msgs)
        same_dates &= proj(d["messages"], 0) == proj(f["messages"], 0)
        same_sys &= proj(d["messages"], 1) == proj(f["messages"], 1)
        same_kw &= proj(d["messages"], 2) == proj(f["messages"], 2)
        same_size &= proj(d["messages"], 3) == proj(f["messages"], 3)
    for key, d in dst["folders"].items():
        if key not in src["folders"] and d["count"]:
            problems.append("extra folder %s with %d messages" % (key, d["count"]))
    sn, sb = totals(src)
    dn, db = totals(dst)
    fid = "dates %s, system flags %s, keywords %s, sizes %s" % tuple(
        "same" if x else "DIFFER" for x in (same_dates, same_sys, same_kw, same_size))
    if problems:
        fid += " (in the folders whose counts match)"
    kw_src = sum(1 for f in src["folders"].values() for m in f["messages"] if m[2])
    kw_dst = sum(1 for f in dst["folders"].values() for m in f["messages"] if m[2])
    result = {
        "ok": not problems, "dest_messages": dn, "dest_bytes": db, "source_messages": sn,
        "source_bytes": sb, "fidelity": fid, "keyword_messages": [kw_dst, kw_src],
        "problems": problems[:10],
    }
    if args.out:
        json.dump(result, open(args.out, "w"))
    status = "OK" if not problems else "MISMATCH"
    print("%s: %s — %d folders, %d messages (source %d), %.1f MB (source %.1f MB); %s; "
          "messages with keywords %d/%d" % (args.label, status, len(dst["folders"]), dn, sn,
                                            db / 1e6, sb / 1e6, fid, kw_dst, kw_src))
    for p in problems[:10]:
        print("  - " + p)
    if problems and args.strict:
        sys.exit(1)


def cmd_wipe(args):
    """Deletes every folder of an account and empties INBOX (so that a checked destination
    does not fill the disk or a tmpfs)."""
    m = connect(args, args.user, args.password)
    typ, data = m.list('""', "*")
    names = []
    for line in data or []:
        if isinstance(line, tuple):  # name sent as a literal
            names.append(line[1].decode())
        elif line:
            mt = LIST_RE.match(line)
            if mt:
                names.append(unquote(mt.group("name")))
    # Children before parents.
    for name in sorted(names, key=lambda n: -len(n)):
        if name.upper() == "INBOX":
            continue
        m.delete(quote(name))
    m.select("INBOX")
    m.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
    m.expunge()
    m.logout()


def proc_cpu_ticks(pid):
    """utime+stime+cutime+cstime of pid, plus utime+stime of its live children."""
    def stat(p):
        with open("/proc/%s/stat" % p) as f:
            s = f.read()
        return s[s.rindex(")") + 2:].split()

    fields = stat(pid)
    ticks = sum(int(x) for x in fields[11:15])
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            fl = stat(p)
        except (OSError, ValueError):
            continue
        if fl[1] == str(pid):
            ticks += int(fl[11]) + int(fl[12])
    return ticks


def cmd_cpu(args):
    hz = os.sysconf("SC_CLK_TCK")
    print(" ".join("%.2f" % (proc_cpu_ticks(p) / hz) for p in args.pid))


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def cmd_report(args):
    rows = [json.loads(l) for l in open(args.results) if l.strip()]
    meta = json.load(open(args.meta))
    out = []
    msgs, mb = meta["source_messages"], meta["source_bytes"] / 1e6
    out.append("# IMAPCopy vs mbsync benchmark\n")
    out.append("- date: %s; host: %s, %s; load average (1/5/15 min) at start: %s, at end: %s" % (
        meta["date"], meta["host"], meta["cpus"], meta["load"], meta.get("load_end", "?")))
    out.append("- I/O pressure (some, avg60): %s; server storage: %s" % (
        meta.get("io_pressure", "?"), meta.get("storage", "?")))
    out.append("- imapcopy: %s; mbsync: %s; Dovecot: %s" % (meta["imapcopy"], meta["mbsync"], meta["dovecot"]))
    if meta.get("binary"):
        out.append("- imapcopy binary: %s" % meta["binary"])
    if meta.get("rtt_ms") is not None:
        out.append("- network: loopback through `testkit delay-proxy` adding %s ms round-trip time to each side "
                   "(source and destination)" % meta["rtt_ms"])
    out.append("- mailbox: %d messages, %.1f MB, %d folders (seed %s; 2 MB messages: %s); seeding "
               "both source accounts took %.1f s (not part of the benchmark)" % (
                   msgs, mb, meta["source_folders"], meta["seed"], meta["big"], meta["seed_seconds"]))
    out.append("- source: Dovecot, `/` separator, implicit TLS; destination: Dovecot, `INBOX.` prefix and "
               "`.` separator, STARTTLS; loopback. Every first run goes into its own fresh destination "
               "account; the re-run repeats the tool into the destination of its first repetition.\n")
    for phase, title in (("first", "First run (full copy), median of %d" % meta.get("repeat", 1)),
                         ("rerun", "Re-run (same destination again: nothing new to copy)")):
        pr = [r for r in rows if r["phase"] == phase]
        if not pr:
            continue
        tools = []
        for r in pr:
            if r["tool"] not in tools:
                tools.append(r["tool"])
        agg = {}
        for t in tools:
            rs = [r for r in pr if r["tool"] == t]
            agg[t] = {
                "wall": median([r["wall"] for r in rs]), "walls": [r["wall"] for r in rs],
                "best": min(r["wall"] for r in rs),
                "cpu": median([r["cpu"] for r in rs]),
                "rss": max(r.get("rss_kb", 0) for r in rs) / 1024,
                "src": median([r["server_cpu_src"] for r in rs]),
                "dst": median([r["server_cpu_dst"] for r in rs]),
                "appended": median([r["appended"] for r in rs]),
                "ok": sum(1 for r in rs if r["ok"] and r["exit"] == 0), "n": len(rs),
                "dest": max(r["dest_messages"] for r in rs),
                "exits": sorted(set(r["exit"] for r in rs)),
            }
        ref = agg.get("mbsync")
        out.append("## %s\n" % title)
        out.append("| tool | messages | MB | seconds | messages/s | MB/s | speed ratio imapcopy/mbsync "
                   "| best s | ratio on best | all runs (s) | appended | tool CPU s | peak RSS MB "
                   "| server CPU s src / dst | server CPU ms/message src / dst | destination check |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
        for t in tools:
            a = agg[t]
            s = max(a["wall"], 1e-6)
            ratio = "—" if t == "mbsync" or ref is None else "%.2f" % (ref["wall"] / s)
            ratio_best = "—" if t == "mbsync" or ref is None else "%.2f" % (ref["best"] / max(a["best"], 1e-6))
            if a["ok"] == a["n"]:
                check = "OK %d/%d" % (a["dest"], msgs)
            else:
                check = "**DIFFERS**: %d messages for %d" % (a["dest"], msgs)
            if a["exits"] != [0]:
                check += " (exit %s)" % ",".join(map(str, a["exits"]))
            if a["n"] > 1:
                check += " ×%d" % a["n"]
            per = max(a["appended"], 1) if phase == "first" else msgs
            out.append("| %s | %d | %.1f | %.2f | %.0f | %.1f | %s | %.2f | %s | %s | %d | %.2f | %.0f | %.2f / %.2f | %.2f / %.2f | %s |" % (
                t, msgs, mb, a["wall"], msgs / s, mb / s, ratio, a["best"], ratio_best,
                " ".join("%.2f" % w for w in a["walls"]),
                a["appended"], a["cpu"], a["rss"], a["src"], a["dst"],
                1000 * a["src"] / per, 1000 * a["dst"] / per, check))
        out.append("")
    out.append("`messages`/`MB` are the source mailbox (the work of bringing a destination in line with "
               "it); seconds, messages/s and MB/s use the median run. Speed ratio = mbsync seconds / "
               "imapcopy seconds (> 1: imapcopy faster), on the medians and on the best runs. `appended`: "
               "messages the run added to its destination. Tool CPU: user+sys of the tool; server CPU: "
               "the source and destination Dovecot (imap processes) during the run. Destination check: "
               "message count of every folder equal to the source (LIST/EXAMINE/FETCH after the run).\n")
    notes = []
    for r in rows:
        if r["phase"] == "rerun" and r["appended"] > 0:
            notes.append("The re-run of %s was not a no-op: it appended %d messages again, the destination "
                         "now holds %d messages for a source of %d (duplicates)." % (
                             r["tool"], r["appended"], r["dest_messages"], r["source_messages"]))
    if notes:
        out.append("### Notes\n")
        out.extend("- " + n for n in notes)
        out.append("")
    out.append("### Fidelity (first repetition; informational)\n")
    for r in rows:
        if r["rep"] == 1 and r["phase"] == "first":
            out.append("- %s: %s; messages with keywords %d of %d%s" % (
                r["tool"], r["fidelity"], r["keyword_messages"][0], r["keyword_messages"][1],
                "" if not r["problems"] else "; " + "; ".join(r["problems"][:3])))
    text = "\n".join(out) + "\n"
    print(text)
    with open(args.out, "w") as f:
        f.write(text)


def cmd_matrix(args):
    """One table over several runs of run.sh (SIZE:LINK:RESULTS.jsonl each)."""
    runs = []
    for spec in args.runs:
        size, link, path = spec.split(":", 2)
        rows = [json.loads(l) for l in open(path) if l.strip()]
        runs.append((int(size), link, rows))

    def agg(rows, phase, tool_prefix):
        rs = [r for r in rows if r["phase"] == phase and r["tool"].startswith(tool_prefix)]
        if not rs:
            return None
        return {
            "wall": median([r["wall"] for r in rs]),
            "n": len(rs),
            "ok": all(r["ok"] and r["exit"] == 0 for r in rs),
            "rss": max(r.get("rss_kb", 0) for r in rs) / 1024,
            "src": median([r["server_cpu_src"] for r in rs]),
            "dst": median([r["server_cpu_dst"] for r in rs]),
            "appended": median([r["appended"] for r in rs]),
            "source_messages": rs[0]["source_messages"],
        }

    ic = "imapcopy --connections 4"
    out = ["# IMAPCopy vs mbsync: the matrix\n",
           "First copy: median seconds of the repetitions (n), messages/s; `of 0 ms`: the rate as a share "
           "of the same tool's rate through the proxy at 0 ms (the baseline carrying the proxy's own "
           "cost); ratio = mbsync s / imapcopy s. Re-run: the same destination again, nothing to copy, "
           "no saved state. Server CPU: source / destination Dovecot, ms per message copied.\n",
           "| messages | link (round trip per side) | imapcopy s | msg/s | of 0 ms | mbsync s | msg/s | of 0 ms "
           "| ratio | re-run imapcopy / mbsync s | imapcopy peak RSS MB | server CPU ms/msg imapcopy | "
           "server CPU ms/msg mbsync | checks |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    base = {}
    for size, link, rows in runs:
        if link == "0":
            base[size] = (agg(rows, "first", ic), agg(rows, "first", "mbsync"))
    for size, link, rows in runs:
        a, m = agg(rows, "first", ic), agg(rows, "first", "mbsync")
        ra, rm = agg(rows, "rerun", ic), agg(rows, "rerun", "mbsync")
        if a is None or m is None:
            continue
        msgs = a["source_messages"]
        b = base.get(size, (None, None))

        def share(x, bx):
            return "%.0f %%" % (100 * bx["wall"] / x["wall"]) if bx else "—"
        label = "loopback, no proxy" if link == "direct" else "proxy, %s ms" % link
        cpu = lambda x: "%.2f / %.2f" % (1000 * x["src"] / max(x["appended"], 1), 1000 * x["dst"] / max(x["appended"], 1))
        out.append("| %d | %s | %.2f (n=%d) | %.0f | %s | %.2f (n=%d) | %.0f | %s | %.2f | %s | %.0f | %s | %s | %s |" % (
            size, label, a["wall"], a["n"], msgs / a["wall"], share(a, b[0]), m["wall"], m["n"],
            msgs / m["wall"], share(m, b[1]), m["wall"] / a["wall"],
            "%.2f / %.2f" % (ra["wall"], rm["wall"]) if ra and rm else "—",
            max(a["rss"], ra["rss"] if ra else 0), cpu(a), cpu(m),
            "OK" if a["ok"] and m["ok"] else "**FAILED**"))
    text = "\n".join(out) + "\n"
    print(text)
    with open(args.out, "w") as f:
        f.write(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def conn(sp):
        sp.add_argument("--host", default="127.0.0.1")
        sp.add_argument("--port", type=int, required=True)
        sp.add_argument("--ca", required=True)
        sp.add_argument("--security", choices=["imaps", "starttls"], default="imaps")
        sp.add_argument("--prefix", default="")
        sp.add_argument("--sep", default="/")

    s = sub.add_parser("seed")
    conn(s)
    s.add_argument("--account", action="append", required=True, help="LOGIN:PASSWORD, repeatable")
    s.add_argument("--messages", type=int, default=2000)
    s.add_argument("--folders", type=int, default=20)
    s.add_argument("--big", type=int, default=5)
    s.add_argument("--seed", type=int, default=42)
    s.set_defaults(fn=cmd_seed)

    s = sub.add_parser("snapshot")
    conn(s)
    s.add_argument("--user", required=True)
    s.add_argument("--password", default=os.environ.get("BENCH_PASSWORD"))
    s.set_defaults(fn=cmd_snapshot)

    s = sub.add_parser("compare")
    s.add_argument("source")
    s.add_argument("dest")
    s.add_argument("--label", default="destination")
    s.add_argument("--out")
    s.add_argument("--strict", action="store_true")
    s.set_defaults(fn=cmd_compare)

    s = sub.add_parser("wipe")
    conn(s)
    s.add_argument("--user", required=True)
    s.add_argument("--password", default=os.environ.get("BENCH_PASSWORD"))
    s.set_defaults(fn=cmd_wipe)

    s = sub.add_parser("cpu")
    s.add_argument("pid", nargs="+")
    s.set_defaults(fn=cmd_cpu)

    s = sub.add_parser("matrix")
    s.add_argument("runs", nargs="+", help="SIZE:LINK:RESULTS.jsonl")
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_matrix)

    s = sub.add_parser("report")
    s.add_argument("--results", required=True)
    s.add_argument("--meta", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_report)

    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
