#pragma once
// HostMirror: a host copy of a flat device buffer of n floats (a model's parameters), for
// communication: strategies seal, send and average host memory while the backend computes.
//
// Contract
// - host() is n floats of host memory (pinned on CUDA, so copies are true DMA transfers).
// - begin_download(src) starts copying the device buffer src (n floats) into host(). The copy
//   sees every op issued on the backend before the call, and none issued after it: later ops
//   may overwrite src at once (on CUDA the mirror first snapshots src on the device, then
//   copies the snapshot on its own copy stream, overlapping later compute).
// - begin_upload(dst) starts copying host() into the device buffer dst (n floats). Ops issued
//   on the backend after the call see the uploaded values; ops issued before it do not.
// - wait() blocks until the last begun copy has finished. After a download, host() may be
//   read only after wait(); after an upload, host() may be written only after wait().
// - One copy at a time: call wait() before beginning the next one.
// - Threading: begin_download/begin_upload are called by the thread that drives the backend
//   (they enqueue work on its stream). wait() and host() may be used from another thread
//   (the communication thread), provided it is handed the mirror after begin_* returned and
//   hands it back before the next begin_*.
// - On a host-memory backend (cpu) copies are plain memcpy done inside begin_*; wait() returns
//   at once.
// - Errors: a failed device call throws InvariantError (see backend.h).
#include <cstddef>
#include <memory>

#include "foundations/backends/backend.h"

namespace chorus {

class HostMirror {
 public:
  virtual ~HostMirror() = default;

  virtual float* host() = 0;
  virtual const float* host() const = 0;
  virtual std::size_t size() const = 0;  // n, in floats

  virtual void begin_download(const float* device_src) = 0;
  virtual void begin_upload(float* device_dst) = 0;
  virtual void wait() = 0;
};

// A mirror of n floats for buffers of `backend` ("cpu" or any host-memory backend: memcpy;
// "cuda": pinned memory and a copy stream). The backend must outlive the mirror.
std::unique_ptr<HostMirror> make_host_mirror(Backend& backend, std::size_t n);

}  // namespace chorus
