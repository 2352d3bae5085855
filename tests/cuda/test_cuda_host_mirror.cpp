// HostMirror on the CUDA backend: the download sees exactly the ops issued before it (the
// snapshot), the upload is seen by exactly the ops issued after it, wait() works from another
// thread, and repeated cycles reuse the events correctly. Skipped (exit 77) when no CUDA
// device is usable.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "foundations/backends/backend.h"
#include "foundations/backends/host_mirror.h"
#include "tests/cuda/cuda_test_util.h"

using namespace chorus;
using chorus_cuda_test::require_cuda;

namespace {

bool all_equal(const float* p, std::size_t n, float value) {
  return std::all_of(p, p + n, [&](float v) { return v == value; });
}

}  // namespace

TEST_CASE("cuda host mirror: ordering against the compute stream") {
  require_cuda();
  auto cuda = make_cuda_backend();
  const std::size_t n = 100003;
  DeviceBuffer<float> params(*cuda, n), target(*cuda, n), result(*cuda, n);
  auto mirror = make_host_mirror(*cuda, n);
  REQUIRE(mirror != nullptr);
  CHECK(mirror->size() == n);

  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    const float before = static_cast<float>(round);
    // Queued compute before the download is seen; compute after it is not.
    cuda->fill(params.data(), before, n);
    mirror->begin_download(params.data());
    cuda->fill(params.data(), -1.0f, n);
    mirror->wait();
    CHECK(all_equal(mirror->host(), n, before));

    // The upload is seen by compute issued after it, not by compute issued before it.
    std::fill(mirror->host(), mirror->host() + n, before + 0.5f);
    cuda->fill(target.data(), -2.0f, n);
    cuda->copy(result.data(), target.data(), n);  // before the upload: sees -2
    mirror->begin_upload(target.data());
    std::vector<float> host_after(n);
    cuda->axpby(1.0f, target.data(), 0.0f, params.data(), n);  // after: sees the upload
    mirror->wait();
    result.download(host_after.data(), n);
    CHECK(all_equal(host_after.data(), n, -2.0f));
    params.download(host_after.data(), n);
    CHECK(all_equal(host_after.data(), n, before + 0.5f));
  }
}

TEST_CASE("cuda host mirror: wait from the communication thread") {
  require_cuda();
  auto cuda = make_cuda_backend();
  const std::size_t n = 4096;
  DeviceBuffer<float> params(*cuda, n);
  auto mirror = make_host_mirror(*cuda, n);
  cuda->fill(params.data(), 3.25f, n);
  mirror->begin_download(params.data());
  bool ok = false;
  std::thread comm([&] {
    mirror->wait();
    ok = all_equal(mirror->host(), n, 3.25f);
  });
  comm.join();
  CHECK(ok);
}
