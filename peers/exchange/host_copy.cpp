#include "peers/exchange/host_copy.h"

namespace chorus {

HostCopy::HostCopy(Model& model, Buffer buffer) : model_(model), buffer_(buffer) {
  if (!model.backend().host_memory()) mirror_ = make_host_mirror(model.backend(), model.size());
}

float* HostCopy::device() const { return buffer_ == Buffer::params ? model_.params() : model_.grads(); }

std::span<float> HostCopy::pull() {
  if (mirror_) {
    mirror_->begin_download(device());
    mirror_->wait();
  }
  return host();
}

void HostCopy::push() {
  if (!mirror_) return;
  mirror_->begin_upload(device());
  mirror_->wait();
}

std::span<float> HostCopy::host() {
  if (mirror_) return {mirror_->host(), mirror_->size()};
  return {device(), model_.size()};
}

}  // namespace chorus
