#include "peers/gossip/gossip_channel.h"

#include <algorithm>
#include <cstring>

#include "foundations/wire/message_types.h"
#include "peers/exchange/readiness.h"

namespace chorus::gossip {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxNotes = 256;

}  // namespace

double GossipChannel::now_s() {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

GossipChannel::GossipChannel(Transport& transport, CommStats& stats, ExchangeTimings timings, std::size_t max_values)
    : transport_(transport), stats_(stats), timings_(timings), max_values_(max_values) {}

GossipChannel::~GossipChannel() { stop(); }

void GossipChannel::on(std::uint16_t kind, Handler handler) { handlers_[kind] = std::move(handler); }

void GossipChannel::on_tick(std::function<void()> tick) { ticks_.push_back(std::move(tick)); }

void GossipChannel::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void GossipChannel::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

ChannelCounters GossipChannel::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

std::optional<double> GossipChannel::last_heard(PeerId id) const {
  std::lock_guard lock(mutex_);
  auto it = heard_.find(id);
  if (it == heard_.end()) return std::nullopt;
  return it->second;
}

bool GossipChannel::started(PeerId id, const Membership& membership) const {
  return readiness::is_ready(membership, id) || last_heard(id).has_value();
}

void GossipChannel::post(std::function<void()> task) {
  std::lock_guard lock(mutex_);
  tasks_.push_back(std::move(task));
}

void GossipChannel::note(std::string event, nlohmann::json fields) {
  std::lock_guard lock(mutex_);
  if (notes_.size() < kMaxNotes) notes_.emplace_back(std::move(event), std::move(fields));
}

std::vector<std::pair<std::string, nlohmann::json>> GossipChannel::take_notes() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, nlohmann::json>> out;
  out.swap(notes_);
  return out;
}

bool GossipChannel::send(const std::string& to, LetterHead head, std::span<const float> values,
                         std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mutex_);
    if (stalled_.count(to)) timeout = std::min(timeout, kStalledWait);
  }
  const auto deadline = Clock::now() + timeout;
  if (head.id == 0) head.id = next_id();
  head.count = values.size();
  const auto bytes = encode(head);
  auto fail = [&] {
    std::lock_guard lock(mutex_);
    ++counters_.send_failures;
    if (stalled_.size() < 4096) stalled_.insert(to);
    return false;
  };
  auto succeed = [&] {
    std::lock_guard lock(mutex_);
    stalled_.erase(to);
    return true;
  };
  if (transport_.send(to, kLetterHead, bytes, timeout) != SendStatus::kOk) return fail();
  stats_.bytes_sent += bytes.size();
  if (values.empty()) return succeed();
  ParamSend meta;
  meta.type = kLetterValues;
  meta.step = static_cast<std::uint64_t>(std::max<std::int64_t>(0, head.step));
  meta.tag = head.id;
  meta.total_elements = values.size();
  const auto left = std::max(std::chrono::milliseconds(1),
                             std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  SendResult r = transport_.send_params(to, meta, values, left);
  // The transport may still read `values` until the completion is done; never return before.
  const auto left2 = std::max(std::chrono::milliseconds(1),
                              std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  if (!r.completion.wait_for(left2)) {
    transport_.forget(to);  // drops what is queued for `to`, releasing `values`
    r.completion.wait_for(std::chrono::milliseconds(1000));
    return fail();
  }
  if (!r.ok()) return fail();
  stats_.bytes_sent += values.size() * sizeof(float);
  return succeed();
}

void GossipChannel::run() {
  auto last_tick = Clock::now();
  while (!stopping_) {
    auto m = transport_.receive(timings_.poll, msg::kGossip);
    if (m) {
      try {
        handle(std::move(*m));
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex_);
        ++counters_.handler_errors;
        if (notes_.size() < kMaxNotes) notes_.emplace_back("gossip_error", nlohmann::json{{"what", e.what()}});
      }
    }
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard lock(mutex_);
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) {
      try {
        t();
      } catch (const std::exception& e) {
        note("gossip_error", {{"what", e.what()}});
      }
    }
    if (Clock::now() - last_tick >= timings_.tick) {
      last_tick = Clock::now();
      for (auto& t : ticks_) {
        try {
          t();
        } catch (const std::exception& e) {
          note("gossip_error", {{"what", e.what()}});
        }
      }
      expire();
    }
  }
}

void GossipChannel::handle(ReceivedMessage&& m) {
  auto bad = [&] {
    std::lock_guard lock(mutex_);
    ++counters_.malformed;
  };
  if (m.type == kLetterHead) {
    stats_.bytes_recv += m.bytes().size();
    auto head = decode(m.bytes());
    if (!head || head->count > max_values_) return bad();
    if (head->count == 0) {
      Letter l;
      l.head = *head;
      l.from_id = m.sender_id;
      l.from = m.from;
      l.incarnation = m.incarnation;
      l.received_s = now_s();
      return dispatch(std::move(l));
    }
    Key key{m.from, m.incarnation, head->id};
    Partial& p = partial_[key];
    if (p.has_head) return bad();  // a repeated id
    if (p.total != 0 && p.total != head->count) {
      partial_.erase(key);
      return bad();
    }
    p.has_head = true;
    p.head = *head;
    if (p.values.empty()) {
      p.values.resize(head->count);
      p.total = head->count;
      p.started_s = now_s();
    }
    if (!p.chunks.empty() && p.chunks_seen == p.chunks.size()) {
      Partial done = std::move(p);
      partial_.erase(key);
      complete(key, std::move(done), m);
    }
    return;
  }
  if (m.type != kLetterValues || !m.params) return bad();
  const auto values = m.floats();
  stats_.bytes_recv += values.size() * sizeof(float);
  const wire::ParamHeader& ph = *m.params;
  Key key{m.from, m.incarnation, ph.tag};
  Partial& p = partial_[key];
  if (p.values.empty()) {
    if (ph.total_elements == 0 || ph.total_elements > max_values_) {
      partial_.erase(key);
      return bad();
    }
    p.values.resize(ph.total_elements);
    p.total = ph.total_elements;
    p.started_s = now_s();
  }
  if (p.chunks.empty()) p.chunks.assign(std::max<std::uint32_t>(1, ph.chunk_count), false);
  if (ph.total_elements != p.total || ph.chunk_count != p.chunks.size() || ph.chunk_index >= p.chunks.size() ||
      ph.offset > p.total || values.size() > p.total - ph.offset || p.chunks[ph.chunk_index]) {
    partial_.erase(key);
    return bad();
  }
  std::copy(values.begin(), values.end(), p.values.begin() + static_cast<std::ptrdiff_t>(ph.offset));
  p.chunks[ph.chunk_index] = true;
  ++p.chunks_seen;
  if (p.has_head && p.chunks_seen == p.chunks.size()) {
    Partial done = std::move(p);
    partial_.erase(key);
    complete(key, std::move(done), m);
  }
}

void GossipChannel::complete(const Key& key, Partial&& p, const ReceivedMessage& m) {
  Letter l;
  l.head = p.head;
  l.from_id = m.sender_id;
  l.from = std::get<0>(key);
  l.incarnation = std::get<1>(key);
  l.values = std::move(p.values);
  l.received_s = now_s();
  dispatch(std::move(l));
}

void GossipChannel::dispatch(Letter&& letter) {
  auto it = handlers_.find(letter.head.kind);
  {
    std::lock_guard lock(mutex_);
    ++counters_.letters_received;
    heard_[letter.from_id] = letter.received_s;
    if (it == handlers_.end()) {
      ++counters_.unknown_kind;
      return;
    }
  }
  it->second(std::move(letter));
}

void GossipChannel::expire() {
  const double now = now_s();
  const double ttl = std::chrono::duration<double>(timings_.letter_ttl).count();
  for (auto it = partial_.begin(); it != partial_.end();) {
    if (now - it->second.started_s > ttl) {
      it = partial_.erase(it);
      std::lock_guard lock(mutex_);
      ++counters_.expired;
    } else {
      ++it;
    }
  }
}

}  // namespace chorus::gossip
