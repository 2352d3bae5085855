// StateServer and fetch_state (see state_transfer.h).
#include "peers/runtime/state_transfer.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include "foundations/base/error.h"
#include "foundations/wire/byte_reader.h"
#include "foundations/wire/byte_writer.h"
#include "foundations/wire/message_types.h"

namespace chorus {

static_assert(msg::kStateRequest < msg::kStateResponse && msg::kStateResponse < msg::kStateRefusal &&
                  msg::kStateRefusal < msg::kStateNotStarted,
              "the answers, and the answers with the requests, must be ranges of their own");

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kNonceBytes = 8;
constexpr TypeRange kAnswers{msg::kStateResponse, msg::kStateNotStarted};
// What a fetcher receives while it waits: answers, and other fetchers' requests.
constexpr TypeRange kAnswersAndRequests{msg::kStateRequest, msg::kStateNotStarted};
// The transport queues requests as they arrive, so serve_pending takes what is there and
// never waits for more.
constexpr std::chrono::milliseconds kNoWait{0};
// Requests answered by one serve_pending call at most, so a flood cannot stall training.
constexpr int kMaxAnswersPerCall = 64;
constexpr std::size_t kMaxLoggedSenders = 256;
constexpr std::size_t kMaxReasonBytes = 512;

void emit(const StateTransferLog& log, const std::string& line) {
  if (log) {
    log(line);
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }
}

// A message of this protocol: the nonce (8 bytes, little-endian), then the body (empty for a
// request and a not-started answer).
struct NonceMessage {
  std::uint64_t nonce = 0;
  std::span<const std::byte> body;
};

std::optional<NonceMessage> split(std::span<const std::byte> bytes) {
  wire::ByteReader r(bytes);
  NonceMessage m;
  m.nonce = r.u64();
  m.body = r.bytes(r.remaining());
  if (!r.finished()) return std::nullopt;
  return m;
}

// The nonce of a request: exactly 8 bytes.
std::optional<std::uint64_t> request_nonce(std::span<const std::byte> bytes) {
  const std::optional<NonceMessage> m = split(bytes);
  if (!m || !m->body.empty()) return std::nullopt;
  return m->nonce;
}

std::vector<std::byte> with_nonce(std::uint64_t nonce, std::span<const std::byte> body) {
  wire::ByteWriter w;
  w.reserve(kNonceBytes + body.size());
  w.u64(nonce);
  w.bytes(body);
  return w.take();
}

// Puts `nonce` in place of the one `message` (made by with_nonce) starts with.
void set_nonce(std::vector<std::byte>& message, std::uint64_t nonce) {
  wire::ByteWriter(std::span(message).first(kNonceBytes)).u64(nonce);
}

std::uint64_t random_nonce() {
  if (sodium_init() < 0) throw UserError("libsodium could not be initialized");
  std::uint64_t n = 0;
  while (n == 0) randombytes_buf(&n, sizeof n);
  return n;
}

// A remote peer's text, made safe to show: printable ASCII only, bounded.
std::string printable_text(std::span<const std::byte> bytes) {
  std::string s;
  for (std::size_t i = 0; i < bytes.size() && s.size() < kMaxReasonBytes; ++i) {
    const char c = static_cast<char>(bytes[i]);
    s.push_back(c >= 0x20 && c <= 0x7e ? c : '?');
  }
  return s;
}

// Logs a line once per key within one fetch_state call.
class OnceLog {
 public:
  explicit OnceLog(const StateTransferLog& log) : log_(log) {}
  void once(const std::string& key, const std::string& line) {
    if (seen_.size() < kMaxLoggedSenders && seen_.insert(key).second) emit(log_, line);
  }
  void always(const std::string& line) { emit(log_, line); }

 private:
  const StateTransferLog& log_;
  std::set<std::string> seen_;
};

}  // namespace

StateServer::StateServer(Transport& transport, std::function<TrainingState()> capture,
                         std::chrono::milliseconds send_timeout, StateTransferLog log)
    : transport_(transport), capture_(std::move(capture)), send_timeout_(send_timeout), log_(std::move(log)) {
  CHORUS_CHECK(capture_ != nullptr, "a state server needs a capture callback");
}

int StateServer::serve_pending(std::chrono::milliseconds wait) {
  std::vector<std::byte> response;  // nonce placeholder, then the state encoded once per call
  bool encoded = false;
  int answered = 0;
  for (int taken = 0; answered < kMaxAnswersPerCall && taken < 4 * kMaxAnswersPerCall; ++taken) {
    std::optional<ReceivedMessage> m =
        transport_.receive(taken == 0 ? wait : kNoWait, TypeRange::only(msg::kStateRequest));
    if (!m) break;
    const std::optional<std::uint64_t> request = request_nonce(m->bytes());
    if (!request) {
      if (logged_.size() < kMaxLoggedSenders && std::find(logged_.begin(), logged_.end(), m->from) == logged_.end()) {
        logged_.push_back(m->from);
        emit(log_, fmt::format("state transfer: ignoring a malformed request from {} ({} bytes, expected {})",
                               m->from, m->bytes().size(), kNonceBytes));
      }
      continue;
    }
    const std::uint64_t nonce = *request;
    if (!encoded) {
      encoded = true;
      try {
        const std::vector<std::byte> state = capture_().encode();
        response = with_nonce(0, state);
      } catch (const UserError& e) {
        emit(log_, fmt::format("state transfer: cannot serve this peer's state: {}", e.what()));
        response.clear();
      }
    }
    if (response.empty()) continue;  // no servable state this round; the fetcher tries another member
    set_nonce(response, nonce);
    try {
      const SendStatus status = transport_.send(m->from, msg::kStateResponse, response, send_timeout_);
      if (status != SendStatus::kOk)
        emit(log_, fmt::format("state transfer: could not answer {}: {}", m->from, send_status_name(status)));
      else
        ++answered;
    } catch (const UserError& e) {
      // The transport refuses this payload (larger than its max payload): say so, so the
      // fetcher fails at once with the reason instead of waiting out its timeout.
      const std::string reason = fmt::format("the encoded training state ({} bytes) cannot be sent: {}",
                                             response.size() - kNonceBytes, e.what());
      emit(log_, fmt::format("state transfer: refusing {}: {}", m->from, reason));
      const std::string text = reason.substr(0, kMaxReasonBytes);
      try {
        const std::vector<std::byte> refusal =
            with_nonce(nonce, std::as_bytes(std::span<const char>(text.data(), text.size())));
        if (transport_.send(m->from, msg::kStateRefusal, refusal, send_timeout_) == SendStatus::kOk) ++answered;
      } catch (const UserError& again) {
        emit(log_, fmt::format("state transfer: cannot answer {}: {}", m->from, again.what()));
      }
    }
  }
  return answered;
}

BackgroundStateServer::BackgroundStateServer(Transport& transport, std::chrono::milliseconds fresh_wait,
                                             StateTransferLog log)
    : fresh_wait_(fresh_wait),
      server_(transport, [this] { return snapshot(); }, std::chrono::milliseconds(2000), std::move(log)),
      thread_([this] {
        while (!stop_.load()) answered_ += server_.serve_pending(std::chrono::milliseconds(50));
      }) {}

BackgroundStateServer::~BackgroundStateServer() {
  stop_ = true;
  published_cv_.notify_all();
  thread_.join();
}

bool BackgroundStateServer::wanted() const { return wanted_.load(std::memory_order_relaxed); }

void BackgroundStateServer::publish(TrainingState state) {
  {
    std::lock_guard lock(mutex_);
    latest_ = std::move(state);
    published_ = asked_;
    wanted_ = false;
  }
  published_cv_.notify_all();
}

TrainingState BackgroundStateServer::snapshot() {
  std::unique_lock lock(mutex_);
  const std::uint64_t ask = ++asked_;
  wanted_ = true;
  published_cv_.wait_for(lock, fresh_wait_, [&] { return published_ >= ask || stop_.load(); });
  if (!latest_) throw UserError("no training state yet (this peer is still starting)");
  TrainingState s = *latest_;
  s.step = std::max(s.step, steps_done_.load(std::memory_order_relaxed));
  return s;
}

std::optional<FetchedState> fetch_state(Transport& transport, const std::vector<std::string>& candidates,
                                        std::chrono::milliseconds timeout, StateTransferLog log) {
  OnceLog out(log);
  // Late answers to an earlier fetch would otherwise stay queued; they match no nonce anyway.
  for (int i = 0; i < 1024 && transport.receive(kNoWait, kAnswers); ++i) {
  }
  const auto start = Clock::now();
  auto deadline = start + timeout;
  // Each request's send waits briefly (a live member takes it at once); an absent member must
  // not hold up asking the others.
  const auto send_timeout = std::min(timeout, std::chrono::milliseconds(500));
  std::map<std::uint64_t, std::string> asked;  // nonce -> candidate, until it answers
  std::set<std::string> seen;
  for (const std::string& candidate : candidates) {
    if (candidate == transport.address() || !seen.insert(candidate).second) continue;
    const std::uint64_t nonce = random_nonce();
    const std::vector<std::byte> request = with_nonce(nonce, {});
    SendStatus status;
    try {
      status = transport.send(candidate, msg::kStateRequest, request, send_timeout);
    } catch (const UserError& e) {
      out.always(fmt::format("state transfer: cannot ask {}: {}", candidate, e.what()));
      continue;
    }
    if (status != SendStatus::kOk) {
      out.always(fmt::format("state transfer: cannot ask {}: {}", candidate, send_status_name(status)));
      continue;
    }
    asked.emplace(nonce, candidate);
  }
  // After the first valid answer, the others get this long to offer a later step.
  constexpr std::chrono::milliseconds kGrace{200};
  std::optional<FetchedState> best;
  while (!asked.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    std::optional<ReceivedMessage> m = transport.receive(left, kAnswersAndRequests);
    if (!m) break;
    const std::span<const std::byte> bytes = m->bytes();
    if (m->type == msg::kStateRequest) {
      // Another peer fetching (or a member asking): this one has nothing to give yet.
      if (request_nonce(bytes)) {
        try {
          transport.send(m->from, msg::kStateNotStarted, bytes, std::chrono::milliseconds(100));
        } catch (const UserError&) {
          // An address this transport may not reach: that request goes unanswered.
        }
      }
      continue;
    }
    // The nonce, known only to whoever got this request, identifies the answer; the sender's
    // address may be spelled differently from the candidate's (localhost vs 127.0.0.1).
    const std::optional<NonceMessage> answer = split(bytes);
    const auto it = answer ? asked.find(answer->nonce) : asked.end();
    if (it == asked.end()) {
      out.once(m->from + "|stray", fmt::format("state transfer: skipping an answer from {} that belongs to no "
                                               "request in flight ({} bytes)",
                                               m->from, bytes.size()));
      continue;
    }
    asked.erase(it);
    const std::span<const std::byte> body = answer->body;
    if (m->type == msg::kStateNotStarted) continue;
    if (m->type == msg::kStateRefusal)
      throw UserError(fmt::format("state transfer from {}: refused: {}", m->from, printable_text(body)));
    try {
      TrainingState state = TrainingState::decode(body, "training state from " + m->from);
      if (!best) deadline = std::min(deadline, Clock::now() + kGrace);
      if (!best || state.step > best->state.step) best = FetchedState{std::move(state), m->from};
    } catch (const UserError& e) {
      out.once(m->from + "|invalid", fmt::format("state transfer: skipping an invalid answer: {}", e.what()));
    }
  }
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  for (const auto& [nonce, candidate] : asked)
    out.always(fmt::format("state transfer: no answer from {} within {} ms", candidate, waited.count()));
  return best;
}

}  // namespace chorus
