#include "foundations/transport/address.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/un.h>

#include <charconv>
#include <chrono>
#include <string_view>

#include "foundations/base/error.h"
#include "foundations/wire/byte_reader.h"
#include "foundations/wire/wire.h"

namespace chorus {
namespace {

constexpr std::string_view kForms = "tcp://HOST:PORT or ipc://PATH";

bool is_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// A host or interface name: labels of letters, digits, '-' and '_' between dots, none empty,
// none starting or ending with '-'.
bool is_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-') return false;
      label = 0;
      continue;
    }
    const char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
    ++label;
  }
  return true;
}

// The problem with a tcp address's HOST:PORT part, or empty when there is none; fills `out`.
std::string parse_tcp(std::string_view rest, AddressUse use, Address& out) {
  if (rest.find(';') != std::string_view::npos)
    return "a source address (SOURCE;HOST:PORT) is not supported; give HOST:PORT alone";
  std::string_view host, port;
  if (rest.starts_with("[")) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return "the IPv6 address has no closing ']'";
    host = rest.substr(1, close - 1);
    if (rest.substr(close + 1, 1) != ":") return "no port after the IPv6 address; write tcp://[ADDRESS]:PORT";
    port = rest.substr(close + 2);
    in6_addr v6{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1)
      return fmt::format("'{}' is not an IPv6 address", host);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return "no port; write tcp://HOST:PORT";
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.empty()) return "no host; write tcp://HOST:PORT";
    if (host.find(':') != std::string_view::npos)
      return "an IPv6 address goes in brackets: tcp://[ADDRESS]:PORT";
    if (host == "*") {
      if (use == AddressUse::connect)
        return "host * (every interface) is only for binding; give the host to reach";
    } else if (host.find_first_not_of("0123456789.") == std::string_view::npos) {
      in_addr v4{};
      if (inet_pton(AF_INET, std::string(host).c_str(), &v4) != 1)
        return fmt::format("'{}' is not an IPv4 address (four numbers 0-255, as in 127.0.0.1)", host);
    } else if (!is_name(host)) {
      return fmt::format("'{}' is not a host name, an IPv4 address or [an IPv6 address]", host);
    }
  }
  out.host = std::string(host);
  if (port == "*") {
    if (use == AddressUse::connect) return "port * (picked when binding) is only for binding; give the port";
    out.port = 0;
    return {};
  }
  if (port.empty()) return "no port after ':'; give a port from 1 to 65535";
  if (!is_digits(port))
    return fmt::format("port '{}' is not a number; give a port from 1 to 65535{}", port,
                       use == AddressUse::bind ? " (or * to have one picked)" : "");
  int number = 0;  // at most 5 digits, so it fits
  if (port.size() <= 5) std::from_chars(port.data(), port.data() + port.size(), number);
  if (number < 1 || number > 65535)
    return fmt::format("port {} is out of range; give a port from 1 to 65535{}", port,
                       use == AddressUse::bind ? " (or * to have one picked)" : "");
  out.port = number;
  return {};
}

std::string problem_of(const std::string& text, AddressUse use, Address& out) {
  if (text.empty()) return fmt::format("empty; write {}", kForms);
  if (text.size() > wire::kMaxAddressBytes)
    return fmt::format("{} characters, more than the {} an address may have", text.size(), wire::kMaxAddressBytes);
  for (char c : text)
    if (c <= 0x20 || c >= 0x7f) return "only printable ASCII characters, no spaces, may appear in an address";
  const auto sep = text.find("://");
  if (sep == std::string::npos) return fmt::format("no scheme; write {} (e.g. tcp://{})", kForms, text);
  out.scheme = text.substr(0, sep);
  const std::string_view rest = std::string_view(text).substr(sep + 3);
  if (out.scheme == "tcp") return parse_tcp(rest, use, out);
  if (out.scheme == "ipc") {
    if (rest.empty()) return "no path; write ipc://PATH";
    if (rest == "*" && use == AddressUse::connect) return "ipc://* (a fresh path) is only for binding; give the path";
    if (rest.size() >= sizeof(sockaddr_un::sun_path))
      return fmt::format("the path is {} characters, more than the {} of a Unix socket", rest.size(),
                         sizeof(sockaddr_un::sun_path) - 1);
    out.host = std::string(rest);
    return {};
  }
  if (out.scheme == "inproc") {
    if (rest.empty()) return "no name; write inproc://NAME";
    out.host = std::string(rest);
    return {};
  }
  return fmt::format("unknown scheme '{}'; write {}", out.scheme, kForms);
}

}  // namespace

std::optional<Address> parse_address(const std::string& text, AddressUse use, std::string* problem) {
  Address a;
  std::string why = problem_of(text, use, a);
  if (problem) *problem = why;
  if (!why.empty()) return std::nullopt;
  return a;
}

Address check_address(const std::string& text, AddressUse use, const std::string& option) {
  std::string problem;
  std::optional<Address> a = parse_address(text, use, &problem);
  if (a && a->scheme == "inproc")
    problem = fmt::format("inproc:// reaches only this process; write {}", kForms);
  if (!problem.empty()) throw UserError(fmt::format("{}: '{}': {}", option, text, problem));
  return *a;
}

bool is_on_this_host(const std::string& address) {
  const std::optional<Address> a = parse_address(address, AddressUse::bind);
  if (!a) return false;
  if (a->scheme != "tcp") return true;  // ipc:// and inproc://
  const std::string_view host = a->host;
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  return host.starts_with("127.") && inet_pton(AF_INET, a->host.c_str(), &v4) == 1;
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
