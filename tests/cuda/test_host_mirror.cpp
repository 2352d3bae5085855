// HostMirror on the CPU backend (always runs): round trips, ordering with the backend's ops,
// an empty mirror, and wait() from another thread. The CUDA mirror is test_cuda_host_mirror.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "foundations/backends/backend.h"
#include "foundations/backends/host_mirror.h"

using namespace chorus;

namespace {

std::vector<float> pattern(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(i % 97) - 3.0f;
  return v;
}

}  // namespace

TEST_CASE("cpu host mirror: download and upload round trip") {
  auto cpu = make_cpu_backend();
  const std::size_t n = 1000;
  DeviceBuffer<float> params(*cpu, n), other(*cpu, n);
  const std::vector<float> values = pattern(n, 0.5f);
  params.upload(values.data(), n);

  auto mirror = make_host_mirror(*cpu, n);
  REQUIRE(mirror != nullptr);
  CHECK(mirror->size() == n);
  mirror->begin_download(params.data());
  cpu->fill(params.data(), 7.0f, n);  // issued after the download: not seen by it
  mirror->wait();
  CHECK(std::equal(values.begin(), values.end(), mirror->host()));

  std::transform(mirror->host(), mirror->host() + n, mirror->host(), [](float v) { return 2 * v; });
  mirror->begin_upload(other.data());
  mirror->wait();
  std::vector<float> back(n);
  other.download(back.data(), n);
  for (std::size_t i = 0; i < n; ++i) CHECK(back[i] == 2 * values[i]);
}

TEST_CASE("cpu host mirror: wait from another thread") {
  auto cpu = make_cpu_backend();
  const std::size_t n = 257;
  DeviceBuffer<float> params(*cpu, n);
  const std::vector<float> values = pattern(n, -1.5f);
  params.upload(values.data(), n);
  auto mirror = make_host_mirror(*cpu, n);
  mirror->begin_download(params.data());
  std::vector<float> seen;
  std::thread comm([&] {
    mirror->wait();
    seen.assign(mirror->host(), mirror->host() + n);
  });
  comm.join();
  CHECK(seen == values);
}

TEST_CASE("cpu host mirror: an empty mirror does nothing") {
  auto cpu = make_cpu_backend();
  auto mirror = make_host_mirror(*cpu, 0);
  CHECK(mirror->size() == 0);
  mirror->begin_download(nullptr);
  mirror->begin_upload(nullptr);
  mirror->wait();
}
