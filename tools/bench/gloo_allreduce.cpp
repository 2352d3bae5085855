// The all-reduce through Gloo (TCP transport), for `chorus bench allreduce` to compare with:
// one process per rank, rendezvous through a FileStore directory, sum of float buffers with
// one of Gloo's ring algorithms (--algorithm ring | ring_chunked | allreduce_ring, the last
// being gloo::allreduce with Algorithm::RING). Output: see bench_args.h.
#include <gloo/allreduce.h>
#include <gloo/allreduce_ring.h>
#include <gloo/allreduce_ring_chunked.h>
#include <gloo/barrier.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include <memory>

#include "tools/bench/bench_args.h"

namespace {

void sum_floats(void* out, const void* a, const void* b, size_t n) {
  auto* o = static_cast<float*>(out);
  const auto* x = static_cast<const float*>(a);
  const auto* y = static_cast<const float*>(b);
  for (size_t i = 0; i < n; ++i) o[i] = x[i] + y[i];
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(argc, argv);
  if (args.rank < 0 || args.size < 1 || args.store.empty()) {
    std::fprintf(stderr, "gloo bench: --rank, --size and --store are required\n");
    return 2;
  }
  const std::string algorithm = args.algorithm.empty() ? "ring" : args.algorithm;
  gloo::transport::tcp::attr attr;
  attr.hostname = "127.0.0.1";
  auto device = gloo::transport::tcp::CreateDevice(attr);
  gloo::rendezvous::FileStore files(args.store);
  gloo::rendezvous::PrefixStore store(algorithm, files);
  auto context = std::make_shared<gloo::rendezvous::Context>(args.rank, args.size);
  context->setTimeout(std::chrono::seconds(120));
  context->connectFullMesh(store, device);

  for (std::size_t s = 0; s < args.sizes.size(); ++s) {
    const std::size_t count = args.sizes[s] / sizeof(float);
    std::vector<float> data(count);
    float* ptr = data.data();
    std::unique_ptr<gloo::Algorithm> ring;
    if (algorithm == "ring") ring = std::make_unique<gloo::AllreduceRing<float>>(context, std::vector<float*>{ptr}, count);
    else if (algorithm == "ring_chunked")
      ring = std::make_unique<gloo::AllreduceRingChunked<float>>(context, std::vector<float*>{ptr}, count);
    const auto run = [&] {
      if (ring) {
        ring->run();
        return;
      }
      gloo::AllreduceOptions opts(context);
      opts.setAlgorithm(gloo::AllreduceOptions::Algorithm::RING);
      opts.setOutput(ptr, count);
      opts.setReduceFunction(sum_floats);
      opts.setTag(static_cast<uint32_t>(s));
      gloo::allreduce(opts);
    };
    bench::fill_known(data, args.rank);
    run();
    const bool ok = bench::check_known(data, args.size);
    std::fill(data.begin(), data.end(), 0.0f);
    std::vector<double> times;
    for (std::uint64_t r = 0; r < args.reps[s] + 2; ++r) {
      const auto t0 = bench::Clock::now();
      run();
      if (r >= 2) times.push_back(bench::seconds_since(t0));
    }
    bench::print_times("gloo-" + algorithm, args.rank, args.sizes[s], times, ok);
  }
  // Nobody leaves (closing its connections) while another rank still finishes its last run.
  gloo::BarrierOptions done(context);
  done.setTag(0xbe);
  gloo::barrier(done);
  return 0;
}
