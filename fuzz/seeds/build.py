#!/usr/bin/env python3
"""Builds fuzz/seeds/<target>/ from the project's test data (see README.md)."""

import gzip
import json
import pathlib
import shutil
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEEDS = ROOT / "fuzz" / "seeds"


def fresh(target):
    """The target's seed folder, emptied of what this script made (hand-written
    `seed*` files stay)."""
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    for f in d.iterdir():
        if not f.name.startswith("seed"):
            f.unlink()
    return d


def events():
    for p in sorted((ROOT / "tests" / "events").rglob("*.json")):
        yield p, p.read_bytes()


def policies(value):
    """Policy documents found in an event: objects with `Statement`, or strings holding one."""
    if isinstance(value, dict):
        if "Statement" in value:
            yield value
        for v in value.values():
            yield from policies(v)
    elif isinstance(value, list):
        for v in value:
            yield from policies(v)
    elif isinstance(value, str) and "Statement" in value:
        yield value


def main():
    d = fresh("manifest")
    shutil.copy(ROOT / "rules.toml", d / "rules.toml")
    for p in sorted((ROOT / "tests" / "fixtures" / "manifests").rglob("*.toml")):
        shutil.copy(p, d / p.name)

    rules = tomllib.loads((ROOT / "rules.toml").read_text())["rules"]
    evs = list(events())
    d = fresh("template_condition")
    for i, (rule_id, rule) in enumerate(rules.items()):
        message = rule.get("message", "")
        condition = rule.get("condition", "")
        _, event = evs[i % len(evs)]
        (d / rule_id).write_bytes(
            message.encode() + b"\0" + condition.encode() + b"\0" + event
        )

    d = fresh("webhook")
    for p, event in evs[:40]:
        (d / p.name).write_bytes(event)

    d = fresh("policy")
    n = 0
    for p, event in evs:
        for doc in policies(json.loads(event)):
            text = json.dumps(doc).encode()
            asks = b"s3:GetObject\nkms:Decrypt\nsts:AssumeRole\n\narn:aws:s3:::bucket/key\n*"
            (d / f"{n:03}-{p.stem}").write_bytes(text + b"\0" + asks)
            n += 1

    d = fresh("replay_read")
    archive = ROOT / "tests" / "fixtures" / "replay" / "archive"
    files = sorted(f for f in archive.rglob("*") if f.is_file())
    # Some ordinary files, and every broken one (truncated gzip, not JSON, a 4 MiB record).
    broken = [f for f in files if "/2021/01/12/" in str(f)]
    for f in files[:25] + broken:
        name = str(f.relative_to(archive)).encode()
        (d / f.name).write_bytes(name + b"\n" + f.read_bytes())
    ndjson = ROOT / "tests" / "fixtures" / "replay" / "eventbridge.ndjson"
    (d / "eventbridge.ndjson").write_bytes(b"x/eventbridge.ndjson\n" + ndjson.read_bytes())
    (d / "eventbridge.ndjson.gz").write_bytes(
        b"x/eventbridge.ndjson.gz\n" + gzip.compress(ndjson.read_bytes())
    )
    records = b'{"Records": [{"eventSource": "s3.amazonaws.com"}, [1], 3, {"a": "\\u00e9"}]}'
    (d / "records.json").write_bytes(b"AWSLogs/1/CloudTrail/us-east-1/2024/06/01/r.json\n" + records)
    (d / "lines.jsonl").write_bytes(b"l.jsonl\n" + records + b"\nnope\n\n{\"a\": 1}\n[1, 2]\n")

    d = fresh("pattern_match")
    cases = []
    for f in sorted((ROOT / "tests" / "fixtures" / "patterns").glob("*.json")):
        cases.extend(json.loads(f.read_text()))
    for i, case in enumerate(cases):
        pattern = case["pattern"]
        text = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if "\n" in text:
            continue
        event = json.dumps(case.get("event", {}))
        (d / f"{i:04}").write_bytes(text.encode() + b"\n" + event.encode())


if __name__ == "__main__":
    main()
