#pragma once
// State transfer: a joining peer pulls the current TrainingState (parameters, optimizer
// state, step, data position) from a live member before its first step.
//
// Serving: StateServer answers msg::kStateTransfer requests with a state captured by the
// `capture` callback. serve_pending() is called by the training thread between steps and
// never blocks beyond the sends it makes (each bounded by send_timeout), so every state it
// hands out is a consistent step boundary of this peer.
// Fetching: fetch_state() asks the candidates in order and returns the first valid answer;
// each attempt waits at most `timeout`, so a dead candidate costs a bounded delay.
//
// Protocol (inside msg::kStateTransfer): a request carries a random 64-bit nonce; the answer
// echoes it, followed by the encoded TrainingState, or, when the encoded state exceeds what the
// server's transport may send, a refusal with the reason (the fetcher then throws UserError at
// once: every member would answer the same). Answers with another nonce, from another sender,
// or that do not decode are skipped and logged once. `log` receives one line per event (empty:
// standard error).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "chorus/training_state.h"
#include "chorus/transport.h"

namespace chorus {

namespace msg {
inline constexpr std::uint16_t kStateRequest = 0x0200;   // nonce (8 bytes, little-endian)
inline constexpr std::uint16_t kStateResponse = 0x0201;  // nonce, then TrainingState::encode()
inline constexpr std::uint16_t kStateRefusal = 0x0202;   // nonce, then the reason (text)
}  // namespace msg

using StateTransferLog = std::function<void(const std::string&)>;

class StateServer {
 public:
  StateServer(Transport& transport, std::function<TrainingState()> capture,
              std::chrono::milliseconds send_timeout = std::chrono::milliseconds(2000),
              StateTransferLog log = {});
  // Answers every request waiting now; returns how many were answered.
  int serve_pending();

 private:
  Transport& transport_;
  std::function<TrainingState()> capture_;
  std::chrono::milliseconds send_timeout_;
  StateTransferLog log_;
  std::vector<std::string> logged_;  // senders whose malformed requests were logged (bounded)
};

struct FetchedState {
  TrainingState state;
  std::string from;  // the address that answered
};

std::optional<FetchedState> fetch_state(Transport& transport,
                                        const std::vector<std::string>& candidates,
                                        std::chrono::milliseconds timeout, StateTransferLog log = {});

}  // namespace chorus
