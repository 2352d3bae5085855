#include "peers/exchange/host_grads.h"

namespace chorus {

HostGrads::HostGrads(Model& model) : model_(model) {
  if (!model.backend().host_memory()) mirror_ = make_host_mirror(model.backend(), model.size());
}

std::span<float> HostGrads::pull() {
  if (mirror_) {
    mirror_->begin_download(model_.grads());
    mirror_->wait();
  }
  return host();
}

void HostGrads::push() {
  if (!mirror_) return;
  mirror_->begin_upload(model_.grads());
  mirror_->wait();
}

std::span<float> HostGrads::host() {
  if (mirror_) return {mirror_->host(), mirror_->size()};
  return {model_.grads(), model_.size()};
}

}  // namespace chorus
