#include "foundations/transport/framed_transport.h"

#include <fmt/format.h>

#include <algorithm>

#include "foundations/base/error.h"
#include "foundations/transport/address.h"
#include "foundations/transport/send_completion.h"

namespace chorus {

namespace {
// Room kept for membership messages beyond the receive queue's bounds.
constexpr std::size_t kUrgentReserve = 1024;
constexpr std::uint64_t kUrgentReserveBytes = 16ull << 20;
}  // namespace

namespace {
std::string no_key_message(const std::string& address) {
  return fmt::format("{}: not on this host, and no swarm key is configured; without a key chorus runs "
                     "unauthenticated on loopback only (create one with `chorus keygen --out swarm.key`)",
                     address);
}
}  // namespace

void validate_bind_address(const TransportConfig& config, bool in_process) {
  const std::string& a = config.address;
  std::string problem;
  if (!parse_address(a, AddressUse::bind, &problem))
    throw UserError(fmt::format("transport address '{}': {}", a, problem));
  if (!config.key && !in_process && !is_on_this_host(a)) throw UserError(no_key_message(a));
  if (config.max_payload_bytes == 0) throw UserError("transport: max payload must be positive");
  if (config.receive_queue == 0 || config.receive_queue_bytes < config.max_payload_bytes)
    throw UserError(fmt::format("transport: the receive queue must hold at least one message of the largest "
                                "payload ({} bytes)", config.max_payload_bytes));
  if (config.chunk_bytes < sizeof(float) || config.chunk_bytes > config.max_payload_bytes)
    throw UserError(fmt::format("transport: chunk size {} must lie in [4, max payload {}]", config.chunk_bytes,
                                config.max_payload_bytes));
}

FramedTransport::FramedTransport(TransportConfig config, std::unique_ptr<FrameLink> link)
    : config_(std::move(config)), link_(std::move(link)), log_(config_.log, link_->address()) {
  const std::string& self = link_->address();
  CHORUS_CHECK(self.size() <= wire::kMaxAddressBytes, "resolved address too long");
  id_ = config_.id ? config_.id : peer_id_from_address(self);
  incarnation_ = config_.incarnation ? config_.incarnation : wall_clock_us();

  SenderIdentity who;
  who.sender_id = id_;
  who.incarnation = incarnation_;
  who.address = self;
  ReceiverPolicy policy;
  policy.max_payload_bytes = config_.max_payload_bytes;
  policy.time_window = std::chrono::duration_cast<std::chrono::microseconds>(config_.time_window);
  if (config_.key) {
    const wire::Cipher cipher = config_.cipher.value_or(FrameCipher::best_available());
    if (cipher == wire::Cipher::kNone || !FrameCipher::available(cipher))
      throw UserError(fmt::format("transport: cipher {} is not available on this CPU", wire::cipher_name(cipher)));
    cipher_ = std::make_shared<FrameCipher>(*config_.key);
    who.swarm_id = policy.swarm_id = config_.key->swarm_id();
    who.protection = config_.encrypt ? wire::Protection::kEncrypted : wire::Protection::kAuthenticated;
    who.cipher = cipher;
    policy.minimum = who.protection;
    if (!config_.encrypt)
      log_.log(fmt::format("{}: frames are authenticated ({}) but not encrypted", self, wire::cipher_name(cipher)));
  } else {
    who.swarm_id = policy.swarm_id = config_.swarm_id;
    log_.log(fmt::format("{}: no swarm key: frames are neither authenticated nor encrypted; running on loopback only",
                         self));
  }
  sealer_ = std::make_unique<FrameSealer>(std::move(who), cipher_);
  opener_ = std::make_unique<FrameOpener>(policy, cipher_, log_);
  receiver_ = std::thread([this] { receive_loop(); });
}

FramedTransport::~FramedTransport() {
  {
    std::lock_guard lock(inbox_mutex_);
    stopping_ = true;
  }
  puller_cv_.notify_all();
  link_->interrupt();
  receiver_.join();  // bounded: the loop checks stopping_ at least every kPullSlice
}

namespace {
constexpr auto kPullSlice = std::chrono::milliseconds(50);
// How long the receive thread leaves the link to callers after one last pulled from it: long
// enough that a caller busy with what it just received comes back before the thread takes the
// link (and the caller would have to interrupt it), short enough to keep the link drained.
constexpr auto kCallerGrace = std::chrono::milliseconds(5);
}  // namespace

std::optional<ReceivedMessage> FramedTransport::pull_and_open(TransportClock::time_point deadline) {
  try {
    if (auto frame = link_->pull(deadline)) return opener_->open(std::move(*frame), wall_clock_us());
  } catch (const std::exception& e) {
    // Nothing in a frame makes open() throw; this is memory exhaustion or a bug. Say so and
    // keep serving rather than take the peer down.
    log_.log(fmt::format("{}: receive loop: {}", address(), e.what()));
  }
  return std::nullopt;
}

void FramedTransport::enqueue(ReceivedMessage&& m) {
  const std::uint64_t bytes = m.payload.data.size();
  // Membership messages are small and decide who is alive: a queue full of parameters that
  // nobody reads yet must not turn them away, so they have a reserve of their own.
  const bool urgent = msg::kMembership.contains(m.type);
  const std::size_t count_limit = config_.receive_queue + (urgent ? kUrgentReserve : 0);
  const std::uint64_t byte_limit = config_.receive_queue_bytes + (urgent ? kUrgentReserveBytes : 0);
  if (inbox_.size() >= count_limit || inbox_bytes_ + bytes > byte_limit) {
    if (!overflow_logged_) {
      overflow_logged_ = true;
      log_.log(fmt::format("{}: receive queue full ({} messages, {} bytes); dropping new messages until "
                           "receive() catches up (counted as queue_full)",
                           address(), inbox_.size(), inbox_bytes_));
    }
    log_.count(RejectReason::kQueueFull);
    return;
  }
  inbox_bytes_ += bytes;
  inbox_.push_back(std::move(m));
}

std::optional<ReceivedMessage> FramedTransport::take_queued(TypeRange types) {
  for (auto it = inbox_.begin(); it != inbox_.end(); ++it)
    if (types.contains(it->type)) {
      std::optional<ReceivedMessage> out(std::move(*it));
      inbox_.erase(it);
      inbox_bytes_ -= out->payload.data.size();
      return out;
    }
  return std::nullopt;
}

void FramedTransport::receive_loop() {
  std::unique_lock lock(inbox_mutex_);
  while (!stopping_) {
    // Leave the link to callers while one pulls, and for a grace period after one did.
    if (pulling_) {
      puller_cv_.wait_for(lock, kCallerGrace);
      continue;
    }
    const auto now = TransportClock::now();
    if (now < caller_pulled_ + kCallerGrace) {
      puller_cv_.wait_until(lock, caller_pulled_ + kCallerGrace);
      continue;
    }
    pulling_ = thread_pulling_ = true;
    interrupt_sent_ = false;
    lock.unlock();
    std::optional<ReceivedMessage> got = pull_and_open(now + kPullSlice);
    lock.lock();
    pulling_ = thread_pulling_ = false;
    // A caller interrupted this pull to pull itself: the link is the callers' for a while.
    if (interrupt_sent_) caller_pulled_ = TransportClock::now();
    if (got) enqueue(std::move(*got));
    // Callers wait for a message or for the link to be free; either may have happened.
    if (callers_waiting_ > 0) inbox_cv_.notify_all();
  }
}

void FramedTransport::check_destination(const std::string& to) const {
  if (!config_.key && !link_->in_process() && !is_on_this_host(to)) throw UserError(no_key_message(to));
}

SendStatus FramedTransport::send(const std::string& to, std::uint16_t type, std::span<const std::byte> payload,
                                 std::chrono::milliseconds timeout) {
  check_destination(to);
  if (payload.size() > config_.max_payload_bytes)
    throw UserError(fmt::format("transport: a payload of {} bytes exceeds the limit of {}", payload.size(),
                                config_.max_payload_bytes));
  const auto deadline = TransportClock::now() + timeout;
  WireFrame frame = sealer_->seal_bytes(type, payload);
  frame.urgent = msg::kMembership.contains(type);
  return link_->push(to, std::move(frame), deadline);
}

SendResult FramedTransport::send_params(const std::string& to, const ParamSend& meta, std::span<const float> data,
                                        std::chrono::milliseconds timeout) {
  check_destination(to);
  const auto deadline = TransportClock::now() + timeout;
  const std::uint64_t total = meta.total_elements ? meta.total_elements : meta.offset + data.size();
  CHORUS_CHECK(meta.offset <= total && data.size() <= total - meta.offset, "data must lie inside its buffer");
  std::size_t chunk = meta.chunk_elements ? meta.chunk_elements : config_.chunk_bytes / sizeof(float);
  chunk = std::min<std::size_t>({chunk, config_.max_payload_bytes / sizeof(float), 0xffffffffu});
  CHORUS_CHECK(chunk > 0, "chunk size must hold at least one element");
  const std::size_t chunks = data.empty() ? 1 : (data.size() + chunk - 1) / chunk;
  CHORUS_CHECK(chunks <= 0xffffffffu, "too many chunks");

  SendResult result;
  std::shared_ptr<SendCompletion::State> state;
  if (link_->borrows_bodies()) {
    state = std::make_shared<SendCompletion::State>();
    result.completion = SendCompletion(state);
  }
  for (std::size_t i = 0; i < chunks; ++i) {
    const std::size_t begin = i * chunk;
    const std::size_t n = std::min(chunk, data.size() - std::min(begin, data.size()));
    wire::ParamHeader ph;
    ph.step = meta.step;
    ph.tag = meta.tag;
    ph.total_elements = total;
    ph.offset = meta.offset + begin;
    ph.count = static_cast<std::uint32_t>(n);
    ph.chunk_index = static_cast<std::uint32_t>(i);
    ph.chunk_count = static_cast<std::uint32_t>(chunks);
    WireFrame f = sealer_->seal_params(meta.type, ph, data.subspan(std::min(begin, data.size()), n),
                                       state ? &state : nullptr);
    result.status = link_->push(to, std::move(f), deadline);
    if (result.status != SendStatus::kOk) break;
    ++result.messages_sent;
  }
  return result;
}

std::optional<ReceivedMessage> FramedTransport::receive(std::chrono::milliseconds timeout, TypeRange types) {
  const auto deadline = TransportClock::now() + timeout;
  std::unique_lock lock(inbox_mutex_);
  bool pulled = false;
  for (;;) {
    if (auto m = take_queued(types)) return m;
    const auto now = TransportClock::now();
    if (!pulling_ && (now < deadline || !pulled)) {
      // Nobody pulls: pull here. Nothing can be queued meanwhile (only a puller queues), so a
      // message for `types` pulled now is also the first one for them.
      pulling_ = true;
      lock.unlock();
      std::optional<ReceivedMessage> got = pull_and_open(std::min(deadline, now + kPullSlice));
      lock.lock();
      pulling_ = false;
      pulled = true;
      caller_pulled_ = TransportClock::now();
      if (got && types.contains(got->type)) return got;  // likely back for the next one soon
      if (got) enqueue(std::move(*got));
      // Others wait for a message or for the link to be free; either may have happened.
      if (callers_waiting_ > 0) inbox_cv_.notify_all();
      continue;
    }
    if (now >= deadline) return std::nullopt;
    if (thread_pulling_ && !interrupt_sent_) {
      interrupt_sent_ = true;  // the receive thread leaves the link to callers once its pull returns
      link_->interrupt();
    }
    ++callers_waiting_;
    inbox_cv_.wait_until(lock, std::min(deadline, now + kPullSlice));
    --callers_waiting_;
  }
}

}  // namespace chorus
