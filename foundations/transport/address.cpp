#include "foundations/transport/address.h"

#include <sodium.h>

#include <chrono>
#include <string_view>

#include "foundations/wire/byte_reader.h"

namespace chorus {

bool is_on_this_host(const std::string& address) {
  const std::string_view a(address);
  if (a.starts_with("ipc://") || a.starts_with("inproc://")) return true;
  if (!a.starts_with("tcp://")) return false;
  std::string_view rest = a.substr(6);
  if (rest.find(';') != std::string_view::npos) return false;  // source-specified connect
  std::string_view host;
  if (rest.starts_with("[")) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return false;
    host = rest.substr(1, close - 1);
    return host == "::1";
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) return false;
  host = rest.substr(0, colon);
  if (host == "localhost") return true;
  if (!host.starts_with("127.")) return false;
  // 127.a.b.c with numeric parts only.
  int dots = 0;
  for (char c : host) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

std::uint64_t peer_id_from_address(const std::string& address) {
  unsigned char h[16];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(address.data()), address.size(), nullptr, 0);
  return wire::ByteReader(std::as_bytes(std::span(h))).u64();
}

std::uint64_t wall_clock_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace chorus
