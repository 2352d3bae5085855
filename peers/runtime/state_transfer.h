#pragma once
// State transfer: a joining peer pulls the current TrainingState (parameters, optimizer
// state, step, data position) from a live member before its first step.
//
// Serving: StateServer answers msg::kStateTransfer requests with a state captured by the
// `capture` callback. serve_pending() waits at most `wait` for a first request and otherwise
// never blocks beyond the sends it makes (each bounded by send_timeout).
// BackgroundStateServer runs a StateServer on its own thread and answers with snapshots the
// training thread publishes at step boundaries, so a peer that is blocked in a collective or
// in a slow step still serves a joiner at once: every state handed out is a consistent step
// boundary of this peer, the freshest one published within `fresh_wait` of the request.
// Fetching: fetch_state() asks every candidate at once and returns the valid answer with the
// highest step among those that arrive by the first answer plus a short grace period; the
// whole fetch waits at most `timeout`, so dead or busy candidates cost a bounded delay and
// never add up. While it waits, a fetcher answers requests it receives with "not started"
// (it has no state of its own yet), and such an answer counts as that candidate's: peers
// that start together and fetch from each other do not wait out each other's timeouts.
//
// Protocol (inside msg::kStateTransfer): a request carries a random 64-bit nonce; the answer
// echoes it, followed by the encoded TrainingState, or, when the encoded state exceeds what the
// server's transport may send, a refusal with the reason (the fetcher then throws UserError at
// once: every member would answer the same). Answers with another nonce, from another sender,
// or that do not decode are skipped and logged once. `log` receives one line per event (empty:
// standard error).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "foundations/train/training_state.h"
#include "foundations/transport/transport.h"
#include "foundations/wire/message_types.h"

namespace chorus {

namespace msg {
inline constexpr std::uint16_t kStateRequest = kStateTransfer.at(0);     // nonce (8 bytes, little-endian)
inline constexpr std::uint16_t kStateResponse = kStateTransfer.at(1);    // nonce, then TrainingState::encode()
inline constexpr std::uint16_t kStateRefusal = kStateTransfer.at(2);     // nonce, then the reason (text)
inline constexpr std::uint16_t kStateNotStarted = kStateTransfer.at(3);  // nonce: "fetching too, nothing to give"
}  // namespace msg

using StateTransferLog = std::function<void(const std::string&)>;

class StateServer {
 public:
  StateServer(Transport& transport, std::function<TrainingState()> capture,
              std::chrono::milliseconds send_timeout = std::chrono::milliseconds(2000),
              StateTransferLog log = {});
  // Answers every request waiting now (waiting up to `wait` for the first); returns how many
  // were answered.
  int serve_pending(std::chrono::milliseconds wait = std::chrono::milliseconds(0));

 private:
  Transport& transport_;
  std::function<TrainingState()> capture_;
  std::chrono::milliseconds send_timeout_;
  StateTransferLog log_;
  std::vector<std::string> logged_;  // senders whose malformed requests were logged (bounded)
};

class BackgroundStateServer {
 public:
  explicit BackgroundStateServer(Transport& transport,
                                 std::chrono::milliseconds fresh_wait = std::chrono::milliseconds(300),
                                 StateTransferLog log = {});
  ~BackgroundStateServer();  // stops and joins the serving thread
  BackgroundStateServer(const BackgroundStateServer&) = delete;
  BackgroundStateServer& operator=(const BackgroundStateServer&) = delete;

  // Training thread, at a step boundary: whether a request is waiting for a fresh snapshot.
  bool wanted() const;
  // Training thread: makes `state` the snapshot that requests are answered with. Until the
  // first publish, requests go unanswered (the fetcher asks other members).
  void publish(TrainingState state);
  // Training thread, at every step boundary: the steps this peer has completed. Answers carry
  // this step count even when their snapshot is older (the peer was blocked in a collective):
  // a joiner then counts steps as the swarm does, so its next step is the one the others are
  // in, and its collectives (which follow from the step) are theirs.
  void note_step(std::int64_t steps_done) { steps_done_.store(steps_done, std::memory_order_relaxed); }
  int answered() const { return answered_.load(); }

 private:
  TrainingState snapshot();  // serving thread: waits up to fresh_wait for a fresher one

  std::chrono::milliseconds fresh_wait_;
  mutable std::mutex mutex_;
  std::condition_variable published_cv_;
  std::optional<TrainingState> latest_;
  std::uint64_t asked_ = 0;      // requests that asked for a fresh snapshot
  std::uint64_t published_ = 0;  // value of asked_ at the latest publish
  std::atomic<bool> wanted_{false};
  std::atomic<std::int64_t> steps_done_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  StateServer server_;
  std::thread thread_;  // last: started when everything above exists
};

struct FetchedState {
  TrainingState state;
  std::string from;  // the address that answered
};

std::optional<FetchedState> fetch_state(Transport& transport,
                                        const std::vector<std::string>& candidates,
                                        std::chrono::milliseconds timeout, StateTransferLog log = {});

}  // namespace chorus
