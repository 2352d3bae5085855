#include "peers/exchange/strategy.h"

namespace chorus {

HostParams::HostParams(Model& model) : model_(model) {
  if (!model.backend().host_memory()) mirror_ = make_host_mirror(model.backend(), model.size());
}

std::span<float> HostParams::pull() {
  if (mirror_) {
    mirror_->begin_download(model_.params());
    mirror_->wait();
  }
  return host();
}

void HostParams::push() {
  if (!mirror_) return;
  mirror_->begin_upload(model_.params());
  mirror_->wait();
}

std::span<float> HostParams::host() {
  if (mirror_) return {mirror_->host(), mirror_->size()};
  return {model_.params(), model_.size()};
}

}  // namespace chorus
