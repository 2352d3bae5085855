// The chorus command as a user meets it: help, bad flags, bad data, a missing GPU — each a
// one-line error and exit code 2, never a crash; and every argument checked before a command
// writes a file or starts a process.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "foundations/backends/backend.h"
#include "tests/test_util.h"

using chorus_test::chorus_bin;
using chorus_test::run_command;

namespace {
int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// Runs `chorus ARGS`; expects exit code 2 and one line "chorus: error: …"; returns the line.
std::string expect_error_line(const std::string& args) {
  const auto r = run_command(chorus_bin() + " " + args);
  INFO(args, " -> ", r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.rfind("chorus: error: ", 0) == 0);
  CHECK(count_lines(r.output) == 1);
  return r.output;
}

// Expects `chorus ARGS` refused up front with a line that contains `says`, and nothing left in
// `dir` (the command was pointed there for every file it would write; a swarm's peers start
// only once their run directory exists).
void expect_refused(const std::string& args, const std::string& says, const chorus_test::TempDir& dir) {
  const std::string line = expect_error_line(args);
  INFO(args, " -> ", line);
  CHECK(line.find(says) != std::string::npos);
  CHECK(std::filesystem::is_empty(dir.path()));
}
}  // namespace

TEST_CASE("help lists the subcommands and explains the training flags") {
  auto r = run_command(chorus_bin() + " --help");
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("train") != std::string::npos);
  CHECK(r.output.find("bench") != std::string::npos);
  r = run_command(chorus_bin() + " train --help");
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("--optimizer") != std::string::npos);
  CHECK(r.output.find("--data") != std::string::npos);
}

TEST_CASE("an unknown flag or bad value is a one-line error with exit code 2") {
  for (const char* args : {"train --no-such-flag", "train --model resnet", "train --epochs x", "frobnicate"})
    expect_error_line(args);
}

TEST_CASE("out-of-range values are refused as they are parsed, for every command") {
  for (const char* args : {"train --epochs 0", "train --batch -1", "train --log-every 0", "train --gamma 2",
                           "train --momentum 1", "train --decay fast", "peer --min-peers 0", "peer --slowdown 0.5",
                           "swarm --peers 0", "swarm --stagger -1", "compare --repeat 0", "compare --target-acc 0",
                           "relay --listen 127.0.0.1:7000 --upstream 127.0.0.1:7001 --loss 1.5",
                           "topology --peers 4 --degree 0", "bench train --batch 0", "bench transport --sizes 0",
                           "bench transport --modes raw,fast", "bench allreduce --peers 2,65",
                           "bench allreduce --size 1XB", "bench allreduce --security maybe"})
    expect_error_line(args);
}

TEST_CASE("addresses are checked up front: a port above 65535 is an error, not another port") {
  chorus_test::TempDir dir;
  const std::string files = " --checkpoint " + (dir / "ckpt") + " --log " + (dir / "peer.jsonl");
  expect_refused("peer --listen tcp://127.0.0.1:70000" + files, "port 70000 is out of range", dir);
  expect_refused("peer --listen tcp://127.0.0.1:0" + files, "port 0 is out of range", dir);
  expect_refused("peer --listen 127.0.0.1:7000" + files, "no scheme; write tcp://HOST:PORT", dir);
  // One bad address in a list of seeds is named.
  expect_refused("peer --seeds tcp://127.0.0.1:7001,tcp://127.0.0.1:99999,tcp://127.0.0.1:7002" + files,
                 "--seeds: 'tcp://127.0.0.1:99999': port 99999 is out of range", dir);
  expect_refused("peer --seeds tcp://127.0.0.1:7001,tcp://127.0.0.1:*" + files, "only for binding", dir);
  expect_refused("peer --seeds tcp://192.0.2.1:7000" + files, "no --key is given", dir);
  expect_refused("relay --listen 127.0.0.1:70000 --upstream 127.0.0.1:7001", "port 70000 is out of range", dir);
  expect_refused("relay --listen 127.0.0.1:7000 --upstream 127.0.0.1:x", "port 'x' is not a number", dir);
  // chorus swarm chooses every peer's addresses; given ones are refused before anything starts.
  expect_refused("swarm --peers 2 --out " + (dir / "run") + " --seeds tcp://127.0.0.1:70000",
                 "--seeds is chosen for each peer by the swarm", dir);
}

TEST_CASE("a peer's options are checked once, up front, by chorus peer and chorus swarm alike") {
  chorus_test::TempDir dir;
  const std::string files = " --checkpoint " + (dir / "ckpt") + " --log " + (dir / "peer.jsonl");
  expect_refused("peer --strategy no-such-strategy" + files, "unknown strategy 'no-such-strategy' (choose one of:",
                 dir);
  expect_refused("peer --strategy kavg --k 0" + files, "--k must be an integer from 1 to", dir);
  const std::string swarm = "swarm --peers 3 --out " + (dir / "run");
  // Each of these is the peers' own message, printed once: no peer was started to print it.
  expect_refused(swarm + " --strategy no-such-strategy", "unknown strategy 'no-such-strategy' (choose one of:", dir);
  expect_refused(swarm + " --strategy kavg --k 0", "--k must be an integer from 1 to", dir);
  expect_refused(swarm + " --strategy gossip --gossip sideways", "--gossip must be one of pull, push", dir);
  expect_refused(swarm + " --strategy elastic-gossip --p 2", "--p must be a number in [0, 1]", dir);
  expect_refused(swarm + " --strategy allreduce --overlap 2", "--overlap is not an option of allreduce", dir);
  expect_refused(swarm + " --strategy lsgd --groups rack", "rack", dir);
  expect_refused(swarm + " --epochs 0", "--epochs: must be at least 1, not 0", dir);
  expect_refused(swarm + " --no-such-flag", "--no-such-flag", dir);
  expect_refused(swarm + " --data " + (dir / "no-data"), "train-images-idx3-ubyte", dir);
  // The late joiner's arguments are checked too.
  expect_refused(swarm + " --fault join@1 --strategy hier --k1 3 --k2 4", "a multiple of --k1", dir);
}

TEST_CASE("a missing or corrupt data directory is a one-line error naming the file") {
  chorus_test::TempDir dir;
  auto r = run_command(chorus_bin() + " train --epochs 1 --data " + dir.path().string());
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(count_lines(r.output) == 1);
  CHECK(r.output.find("train-images-idx3-ubyte") != std::string::npos);

  std::ofstream(dir / "train-images-idx3-ubyte.gz") << "this is not a gzip'd IDX file at all";
  std::ofstream(dir / "train-labels-idx1-ubyte.gz") << "nor this";
  r = run_command(chorus_bin() + " train --epochs 1 --data " + dir.path().string());
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(count_lines(r.output) == 1);
  CHECK(r.output.find(dir.path().string()) != std::string::npos);
}

TEST_CASE("asking for the CUDA backend without a GPU is a clear error") {
  if (chorus::cuda_device_available()) return;  // covered by the CUDA suite where a GPU exists
  const auto r = run_command(chorus_bin() + " train --epochs 1 --backend cuda");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(count_lines(r.output) == 1);
  CHECK(r.output.find("--backend cuda") != std::string::npos);
}

TEST_CASE("an unwritable log path is a one-line error") {
  const auto r = run_command(chorus_bin() + " train --epochs 1 --log /nonexistent-dir/x.jsonl");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("/nonexistent-dir/x.jsonl") != std::string::npos);
}

TEST_CASE("bench train prints JSON lines with the documented fields") {
  const auto r = run_command(chorus_bin() +
                             " bench train --model mlp --batch 32 --seconds 0.05 --gemm-size 128 --json");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  for (const char* field : {"\"model\":\"mlp\"", "\"batch\":32", "\"samples_per_s\"",
                            "\"step_gflops\"", "\"gemm_gflops\""})
    CHECK(r.output.find(field) != std::string::npos);
}
