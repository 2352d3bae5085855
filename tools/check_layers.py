#!/usr/bin/env python3
"""Refuses an include that points up a layer, or across to an area its area may not use.

chorus is built in layers, lowest first: foundations < topology < peers < tools. A file may
include its own area, any area of a lower layer, and the areas of its own layer that AREAS
lists for its area. Every include names its layer from the repository root
("foundations/wire/wire.h"), so the first two path components say where it points.

Run by every build (meson.build: layer-check) and by the `layers` test. Prints one line per
offending include, "FILE:LINE: ...", and exits 1; exits 0 when the tree keeps to the layers.
"""
import argparse
import os
import re
import sys

LAYERS = ["foundations", "topology", "peers", "tools"]

# For each layer, its areas (directories directly below it) and the areas of the same layer
# each may use. A layer without an entry is one area.
AREAS = {
    "foundations": {
        "base": [],
        "params": ["base"],
        "backends": ["base", "params"],
        "models": ["base", "params", "backends"],
        "optim": ["base", "params", "backends"],
        "data": ["base"],
        "wire": ["base"],
        "crypto": ["base", "wire"],
        "transport": ["base", "wire", "crypto"],
        "train": ["base", "params", "backends", "models", "optim", "data", "wire"],
    },
    "peers": {
        "membership": [],
        "exchange": ["membership"],
        "ring": ["membership", "exchange"],
        "gossip": ["membership", "exchange"],
        "runtime": ["membership", "exchange", "ring", "gossip"],
    },
    "tools": {
        "chorus": [],
        "bench": [],
    },
}

SOURCE_SUFFIXES = (".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
# Headers generated into the build directory, usable everywhere.
GENERATED = {"chorus_config.h"}


def place(path):
    """(layer, area) of a repository path, or None outside the layers."""
    parts = path.split("/")
    if parts[0] not in LAYERS:
        return None
    areas = AREAS.get(parts[0])
    if areas is None or len(parts) < 3:
        return parts[0], None
    return parts[0], parts[1]


def allowed(src, dst):
    """Why src may not include dst, or None when it may."""
    (src_layer, src_area), (dst_layer, dst_area) = src, dst
    s, d = LAYERS.index(src_layer), LAYERS.index(dst_layer)
    if d < s:
        return None
    if d > s:
        below = LAYERS[:s]
        return "{} may use {}".format(src_layer, ", ".join(below) if below else "nothing above it") + \
            " (layers, lowest first: " + " < ".join(LAYERS) + ")"
    if src_area is None or dst_area is None or src_area == dst_area:
        return None
    areas = AREAS[src_layer]
    if src_area not in areas:
        return "{}/{} is not an area of {} (add it to AREAS in tools/check_layers.py)".format(
            src_layer, src_area, src_layer)
    if dst_area in areas[src_area]:
        return None
    uses = areas[src_area]
    return "{}/{} may use {} of {}".format(
        src_layer, src_area, ", ".join(uses) if uses else "no other area", src_layer)


def check(root):
    problems = []
    for layer in LAYERS:
        top = os.path.join(root, layer)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(filenames):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
                src = place(path)
                with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m or m.group(1) in GENERATED:
                            continue
                        target = m.group(1)
                        dst = place(target)
                        if dst is None:
                            problems.append('{}:{}: includes "{}", which is in no layer: name headers from the '
                                            'repository root ("foundations/wire/wire.h")'.format(path, number, target))
                            continue
                        why = allowed(src, dst)
                        if why:
                            problems.append('{}:{}: includes "{}": {}'.format(path, number, target, why))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                        help="the repository root (default: this script's parent folder)")
    parser.add_argument("--stamp", help="file to touch when the tree passes (for the build)")
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(args.root, "foundations")):
        print("check_layers: {} holds no foundations/ folder: not a chorus tree".format(args.root), file=sys.stderr)
        return 2
    problems = check(args.root)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print("check_layers: {} include(s) point up a layer or across to an area not allowed".format(len(problems)),
              file=sys.stderr)
        return 1
    if args.stamp:
        with open(args.stamp, "w") as f:
            f.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
