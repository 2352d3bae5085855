#pragma once
// TransportConfig: how a transport binds, protects and bounds its traffic.
//
// Security: with a swarm key every frame is encrypted (AES-256-GCM where the CPU has AES-NI,
// else XChaCha20-Poly1305), or with encrypt = false authenticated only; a receiver refuses any
// frame weaker than its own setting. Without a key frames are neither, and the transport
// refuses (UserError) to bind or send to any address that is not on this host (127.0.0.0/8,
// localhost, [::1], ipc://, inproc://), and logs that it runs unauthenticated on loopback only.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "foundations/crypto/swarm_key.h"
#include "foundations/wire/wire.h"

namespace chorus {

struct TransportConfig {
  std::string address;                  // to bind: tcp://127.0.0.1:5555, tcp://127.0.0.1:*, ...
  std::optional<SwarmKey> key;          // none: unauthenticated, loopback only
  bool encrypt = true;                  // with a key: encrypt (true) or authenticate only
  std::optional<wire::Cipher> cipher;   // none: the best this CPU runs
  std::uint64_t swarm_id = 0;           // without a key only; with one it is derived from it
  std::uint64_t id = 0;                 // peer id; 0: derived from the bound address
  std::uint64_t incarnation = 0;        // 0: the wall clock in microseconds at construction

  std::uint64_t max_payload_bytes = 64ull << 20;  // largest legal body; sets ZMQ_MAXMSGSIZE
  std::size_t chunk_bytes = 1u << 20;             // default parameter chunk size
  std::chrono::milliseconds time_window{120000};  // replay time window (0: off)

  int send_queue = 64;  // messages queued per destination (ZMQ_SNDHWM / hub capacity)
  // Verified messages waiting for receive() at this peer, by count and by payload bytes; a
  // message arriving when either is reached is dropped and counted (RejectReason::kQueueFull).
  std::size_t receive_queue = 4096;
  std::uint64_t receive_queue_bytes = 512ull << 20;
  std::chrono::milliseconds heartbeat_interval{1000};  // ZMTP heartbeats
  std::chrono::milliseconds heartbeat_timeout{5000};
  std::chrono::milliseconds linger{200};  // how long closing waits for queued frames
  int io_threads = 1;

  // Where log lines go (one line each, no trailing newline; called from any thread, including
  // the transport's receive thread); empty: standard error.
  std::function<void(const std::string&)> log;
};

}  // namespace chorus
