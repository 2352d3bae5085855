// Transport addresses: what parses, what does not and why, which stay on this host.
#include <doctest/doctest.h>

#include <string>

#include "foundations/base/error.h"
#include "foundations/transport/address.h"

using chorus::AddressUse;
using chorus::parse_address;

namespace {

// The reason parse_address gives for `text`, empty when it parses.
std::string problem(const std::string& text, AddressUse use) {
  std::string why;
  const bool ok = parse_address(text, use, &why).has_value();
  CHECK(ok == why.empty());
  return why;
}

}  // namespace

TEST_CASE("well-formed addresses parse into their parts") {
  auto a = parse_address("tcp://127.0.0.1:7000", AddressUse::connect);
  REQUIRE(a);
  CHECK(a->scheme == "tcp");
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 7000);
  a = parse_address("tcp://[::1]:65535", AddressUse::connect);
  REQUIRE(a);
  CHECK(a->host == "::1");
  CHECK(a->port == 65535);
  a = parse_address("tcp://*:*", AddressUse::bind);
  REQUIRE(a);
  CHECK(a->host == "*");
  CHECK(a->port == 0);
  for (const char* ok : {"tcp://localhost:1", "tcp://peer-3.example.org:7000", "tcp://eth0:5555",
                         "ipc:///tmp/chorus.sock", "inproc://member-1", "tcp://10.0.0.1:007"})
    CHECK_MESSAGE(problem(ok, AddressUse::connect).empty(), ok);
  for (const char* ok : {"tcp://127.0.0.1:*", "tcp://0.0.0.0:7000", "ipc://*"})
    CHECK_MESSAGE(problem(ok, AddressUse::bind).empty(), ok);
}

TEST_CASE("a port out of range is an error, never a different port") {
  for (const char* port : {"65536", "70000", "0", "4294967297", "99999999999999999999"}) {
    const std::string why = problem(std::string("tcp://127.0.0.1:") + port, AddressUse::bind);
    CHECK_MESSAGE(why.find("out of range; give a port from 1 to 65535") != std::string::npos, port, ": ", why);
  }
  for (const char* port : {"x", "-1", "+80", "80a", " 80"}) {
    const std::string why = problem(std::string("tcp://127.0.0.1:") + port, AddressUse::connect);
    CHECK_FALSE(why.empty());
  }
  CHECK(problem("tcp://127.0.0.1:", AddressUse::connect).find("no port") != std::string::npos);
  CHECK(problem("tcp://127.0.0.1", AddressUse::connect).find("no port") != std::string::npos);
}

TEST_CASE("what only binding allows is refused for connecting") {
  CHECK(problem("tcp://127.0.0.1:*", AddressUse::connect).find("only for binding") != std::string::npos);
  CHECK(problem("tcp://*:7000", AddressUse::connect).find("only for binding") != std::string::npos);
  CHECK(problem("ipc://*", AddressUse::connect).find("only for binding") != std::string::npos);
}

TEST_CASE("malformed hosts, schemes and characters are named") {
  CHECK(problem("127.0.0.1:7000", AddressUse::connect).find("no scheme; write tcp://HOST:PORT") != std::string::npos);
  CHECK(problem("udp://127.0.0.1:7000", AddressUse::connect).find("unknown scheme 'udp'") != std::string::npos);
  CHECK(problem("tcp://256.0.0.1:7000", AddressUse::connect).find("not an IPv4 address") != std::string::npos);
  CHECK(problem("tcp://127.1:7000", AddressUse::connect).find("not an IPv4 address") != std::string::npos);
  CHECK(problem("tcp://::1:7000", AddressUse::connect).find("in brackets") != std::string::npos);
  CHECK(problem("tcp://[::g]:7000", AddressUse::connect).find("not an IPv6 address") != std::string::npos);
  CHECK(problem("tcp://-bad-:7000", AddressUse::connect).find("not a host name") != std::string::npos);
  CHECK(problem("tcp://a..b:7000", AddressUse::connect).find("not a host name") != std::string::npos);
  CHECK(problem("tcp://:7000", AddressUse::connect).find("no host") != std::string::npos);
  CHECK(problem("tcp://a;b:7000", AddressUse::connect).find("source address") != std::string::npos);
  CHECK(problem("tcp://host name:7000", AddressUse::connect).find("printable") != std::string::npos);
  CHECK(problem("", AddressUse::connect).find("empty") != std::string::npos);
  CHECK(problem("ipc://", AddressUse::connect).find("no path") != std::string::npos);
  CHECK(problem("ipc://" + std::string(120, 'p'), AddressUse::connect).find("Unix socket") != std::string::npos);
  CHECK(problem("tcp://" + std::string(300, 'a') + ":1", AddressUse::connect).find("more than the 255") !=
        std::string::npos);
}

TEST_CASE("check_address names the option, and refuses inproc:// between processes") {
  try {
    chorus::check_address("tcp://127.0.0.1:70000", AddressUse::connect, "--seeds");
    FAIL("accepted port 70000");
  } catch (const chorus::UserError& e) {
    CHECK(std::string(e.what()) ==
          "--seeds: 'tcp://127.0.0.1:70000': port 70000 is out of range; give a port from 1 to 65535");
  }
  CHECK_THROWS_WITH_AS(chorus::check_address("inproc://x", AddressUse::bind, "--listen"),
                       doctest::Contains("inproc:// reaches only this process"), chorus::UserError);
  CHECK(chorus::check_address("tcp://127.0.0.1:*", AddressUse::bind, "--listen").port == 0);
}

TEST_CASE("which addresses stay on this host") {
  for (const char* here : {"tcp://127.0.0.1:1", "tcp://127.255.0.9:80", "tcp://localhost:5", "tcp://[::1]:5",
                           "ipc:///tmp/x", "inproc://x", "tcp://127.0.0.2:*"})
    CHECK_MESSAGE(chorus::is_on_this_host(here), here);
  for (const char* away : {"tcp://*:5", "tcp://0.0.0.0:5", "tcp://10.0.0.1:5", "tcp://127.1:5", "tcp://127.0.0.1:x",
                           "tcp://127.0.0.1:5;10.0.0.1:6", "tcp://example.com:5", "udp://127.0.0.1:5"})
    CHECK_MESSAGE(!chorus::is_on_this_host(away), away);
}
