#!/usr/bin/env python3
"""Acceptance runs of the gossip-family strategies (docs/gossip.md): accuracy of a 4-peer swarm
against single-process training, idle time with and without --overlap, and a kill -9 /
restart-from-an-old-checkpoint scenario with and without --dynamic-weights.

Not part of the unit-test suite (it takes minutes). Usage:
    tests/gossip/acceptance.py --chorus build/chorus --out runs/gossip-acceptance [--only NAME ...]
Writes OUT/results.json and prints the tables that docs/gossip.md quotes.

Every swarm is started twice in the same run directory: once with --max-steps 1, so that each
peer has a checkpoint, then for real — every peer then resumes from its own checkpoint and starts
training at once. (A plain start makes the joining peers pull their state from each other, one
candidate at a time with a 3 s timeout, while the first peer already trains alone; that delays
them by 3-6 s and makes the runs incomparable.)
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time


def read_log(path):
    lines = []
    if not os.path.exists(path):
        return lines
    with open(path) as f:
        for line in f:
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return lines


def done_record(path):
    """The last 'done' event of a peer log (a peer that ran twice logs two)."""
    done = [l for l in read_log(path) if l.get("event") == "done"]
    return done[-1] if done else None


def last_step(path):
    steps = [l["step"] for l in read_log(path) if "step" in l and "event" not in l]
    return steps[-1] if steps else 0


def single(chorus, out, epochs):
    log = os.path.join(out, "single.jsonl")
    subprocess.run([chorus, "train", "--model", "mlp", "--epochs", str(epochs), "--log", log],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    d = done_record(log)
    return {"final_test_acc": d["final_test_acc"], "wall_s": d.get("wall_s", d.get("seconds"))}


def swarm(chorus, out, name, args, peers=4):
    run_dir = os.path.join(out, name)
    shutil.rmtree(run_dir, ignore_errors=True)
    base = [chorus, "swarm", "--peers", str(peers), "--out", run_dir, "--model", "mlp"]
    subprocess.run(base + ["--max-steps", "1"] + args, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    t0 = time.time()
    subprocess.run(base + args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = {"args": args, "seconds": time.time() - t0, "peers": []}
    for i in range(peers):
        d = done_record(os.path.join(run_dir, f"peer{i}.jsonl"))
        result["peers"].append({k: d.get(k) for k in
                                ("final_test_acc", "steps", "wall_s", "idle_s", "comm_s", "bytes_sent")})
    accs = [p["final_test_acc"] for p in result["peers"]]
    result["mean_acc"] = sum(accs) / len(accs)
    fr = [p["idle_s"] / p["wall_s"] for p in result["peers"] if p["wall_s"]]
    result["idle_fraction"] = sum(fr) / len(fr)
    result["max_idle_fraction"] = max(fr)
    result["mean_wall_s"] = sum(p["wall_s"] for p in result["peers"]) / peers
    return result


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def restart_scenario(chorus, out, name, dynamic, epochs=8, kill_step=950, back_after=400,
                     checkpoint_every=500):
    """Four `chorus peer` processes (gossip pull on a ring, tau 4); peer 3 is killed with
    SIGKILL at step ~kill_step (its last checkpoint is from step checkpoint_every * k, up to
    checkpoint_every - 1 steps older), and restarted from that checkpoint directory once
    peer 0 has gone back_after steps further."""
    run_dir = os.path.join(out, name)
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    ports = [free_port() for _ in range(4)]
    addrs = [f"tcp://127.0.0.1:{p}" for p in ports]
    strategy = ["--strategy", "gossip", "--gossip", "pull", "--graph", "ring", "--tau", "4"]
    if dynamic:
        strategy.append("--dynamic-weights")

    def cmd(i, extra=()):
        c = [chorus, "peer", "--listen", addrs[i], "--checkpoint", os.path.join(run_dir, f"peer{i}"),
             "--checkpoint-every", str(checkpoint_every), "--log", os.path.join(run_dir, f"peer{i}.jsonl"),
             "--min-peers", "4", "--model", "mlp", "--epochs", str(epochs), "--log-every", "10"] + strategy
        if i > 0:
            c += ["--seeds", addrs[0]]
        return c + list(extra)

    def start(i, extra=()):
        out_file = open(os.path.join(run_dir, f"peer{i}.out"), "a")
        return subprocess.Popen(cmd(i, extra), stdout=out_file, stderr=subprocess.STDOUT)

    # Pre-warm: one step each, so that every peer resumes from its own checkpoint.
    procs = [start(i, ["--max-steps", "1"]) for i in range(4)]
    for p in procs:
        p.wait()
    procs = [start(i) for i in range(4)]
    log3 = os.path.join(run_dir, "peer3.jsonl")
    log0 = os.path.join(run_dir, "peer0.jsonl")
    events = {}
    while last_step(log3) < kill_step:
        time.sleep(0.01)
    procs[3].send_signal(signal.SIGKILL)
    procs[3].wait()
    events["killed_at_step"] = last_step(log3)
    events["peer0_step_at_kill"] = last_step(log0)
    target = events["peer0_step_at_kill"] + back_after
    while last_step(log0) < target and procs[0].poll() is None:
        time.sleep(0.01)
    events["peer0_step_at_restart"] = last_step(log0)
    procs[3] = start(3)
    for p in procs:
        p.wait()
    resumes = [l for l in read_log(log3) if l.get("event") == "resume"]
    events["restarted_from_step"] = resumes[-1]["step"] if resumes else None
    result = {"dynamic_weights": dynamic, "events": events, "peers": []}
    for i in range(4):
        d = done_record(os.path.join(run_dir, f"peer{i}.jsonl"))
        result["peers"].append({k: d.get(k) for k in ("final_test_acc", "steps", "wall_s", "idle_s")})
    accs = [p["final_test_acc"] for p in result["peers"]]
    result["mean_acc"] = sum(accs) / len(accs)
    result["survivors_mean_acc"] = sum(accs[:3]) / 3
    # How far the survivors were dragged back: their training loss right after the restart.
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chorus", default="build/chorus")
    ap.add_argument("--out", default="runs/gossip-acceptance")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--repeat", type=int, default=1, help="restart scenario repetitions")
    ap.add_argument("--swarm-repeat", type=int, default=2, help="repetitions of each swarm run")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    results_path = os.path.join(a.out, "results.json")
    results = json.load(open(results_path)) if os.path.exists(results_path) else {}

    def want(name):
        return a.only is None or any(name.startswith(o) for o in a.only)

    def save():
        with open(results_path, "w") as f:
            json.dump(results, f, indent=2)

    e = str(a.epochs)
    if want("single"):
        results["single"] = single(a.chorus, a.out, a.epochs)
        save()
    configs = {
        "elastic-gossip": ["--strategy", "elastic-gossip", "--alpha", "0.5", "--tau", "4"],
        "gossip-pull": ["--strategy", "gossip", "--gossip", "pull", "--tau", "4"],
        "easgd": ["--strategy", "easgd", "--alpha", "0.5", "--tau", "4"],
        "lsgd": ["--strategy", "lsgd", "--lambda", "0.5", "--tau", "2"],
        "gossip-push": ["--strategy", "gossip", "--gossip", "push", "--tau", "4"],
        "downpour": ["--strategy", "downpour", "--tau", "4"],
    }
    # Synchronous, S = 2 and S = 8, interleaved and repeated (the host is shared; a run's idle
    # time depends on what else runs at that moment).
    for rep in range(a.swarm_repeat):
        for name, args in configs.items():
            for overlap in (-1, 2, 8):
                if name in ("gossip-push", "downpour") and overlap != -1:
                    continue  # push-sum never waits; downpour is only the baseline
                key = f"{name}/overlap{overlap}/{rep}"
                if not want(key):
                    continue
                r = swarm(a.chorus, a.out, key.replace("/", "_"),
                          ["--epochs", e] + args + ["--overlap", str(overlap)])
                results[key] = r
                save()
                print(f"{key:30s} acc {r['mean_acc']:.4f}  idle {100 * r['idle_fraction']:5.1f}% "
                      f"(max {100 * r['max_idle_fraction']:5.1f}%)  wall {r['mean_wall_s']:.1f} s", flush=True)
    # The same number of steps per peer as the single process takes (each peer passes 4x over
    # its quarter of the data), synchronous.
    for name in ("elastic-gossip", "gossip-pull", "easgd", "lsgd"):
        key = f"equal-steps/{name}"
        if not want(key):
            continue
        r = swarm(a.chorus, a.out, key.replace("/", "_"), ["--epochs", str(4 * a.epochs)] + configs[name])
        results[key] = r
        save()
        print(f"{key:30s} acc {r['mean_acc']:.4f}  idle {100 * r['idle_fraction']:5.1f}%  wall {r['mean_wall_s']:.1f} s",
              flush=True)
    for rep in range(a.repeat):
        for dynamic in (False, True):
            key = f"restart/{'dynamic' if dynamic else 'plain'}/{rep}"
            if not want(key):
                continue
            r = restart_scenario(a.chorus, a.out, key.replace("/", "_"), dynamic)
            results[key] = r
            save()
            print(f"{key:28s} mean acc {r['mean_acc']:.4f} survivors {r['survivors_mean_acc']:.4f} "
                  f"peers {[p['final_test_acc'] for p in r['peers']]} events {r['events']}", flush=True)
    save()


if __name__ == "__main__":
    sys.exit(main())
