#include "peers/gossip/peer_exchange.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <thread>

namespace chorus::gossip {

std::uint64_t RoundClock::jump_for(int tau, float p, int overlap) {
  tau = p > 0 ? 1 : std::max(1, tau);
  const int lag = overlap > 0 ? (overlap + tau - 1) / tau : 0;
  return 3 + static_cast<std::uint64_t>(lag);
}

void RoundClock::saw(std::uint64_t round) {
  std::uint64_t cur = seen_.load();
  while (round > cur && !seen_.compare_exchange_weak(cur, round)) {
  }
}

std::uint64_t RoundClock::next() {
  const std::uint64_t mine = current_.load() + 1;
  const std::uint64_t seen = seen_.load();
  const std::uint64_t r = seen >= mine + jump_ - 1 ? seen : mine;
  current_ = r;
  return r;
}

PeerExchange::PeerExchange(PeerServices& services, const MergeOptions& merge)
    : MergingStrategy(services.params, merge.overlap, services.stats, Busy::skip),
      services_(services),
      timings_(services.timings),
      dynamic_weights_(merge.dynamic_weights),
      self_id_(services.transport.id()),
      channel_(services.transport, services.stats, services.timings, services.model.size()) {}

PeerExchange::~PeerExchange() { shutdown(); }

void PeerExchange::start() { channel_.start(); }

void PeerExchange::shutdown() {
  stopping_ = true;
  stop_merging();  // joins the merge thread; its waits give up on stopping()
  channel_.stop();
}

bool PeerExchange::alive(PeerId id) const {
  return !stopping_.load() && services_.membership.is_member(id);
}

Mailbox::Clock::time_point PeerExchange::deadline(PeerId peer) const {
  const auto wait = started(peer) ? timings_.exchange_timeout : timings_.first_contact_timeout;
  return Mailbox::Clock::now() + wait;
}

LetterHead PeerExchange::head(std::uint16_t kind, std::uint64_t round) const {
  LetterHead h;
  h.kind = kind;
  h.round = round;
  h.step = step_.load();
  h.since_start = since_start_.load();
  h.view = services_.membership.view().number;
  return h;
}

Contribution PeerExchange::contribution_of(const Letter& l) {
  return {l.head.step, l.head.since_start, std::max(0.0, GossipChannel::now_s() - l.received_s)};
}

void PeerExchange::add_correction(std::size_t offset, std::span<const float> delta, float scale) {
  std::lock_guard lock(correction_mutex_);
  const std::size_t n = services_.model.size();
  if (offset > n || delta.size() > n - offset) return;
  if (correction_.size() != n) correction_.assign(n, 0.0f);
  for (std::size_t k = 0; k < delta.size(); ++k) correction_[offset + k] += scale * delta[k];
  has_correction_ = true;
}

bool PeerExchange::has_queued() {
  std::lock_guard lock(correction_mutex_);
  return has_correction_;
}

bool PeerExchange::apply_queued(std::span<float> params) {
  std::lock_guard lock(correction_mutex_);
  if (!has_correction_) return false;
  for (std::size_t k = 0; k < params.size() && k < correction_.size(); ++k) params[k] += correction_[k];
  std::fill(correction_.begin(), correction_.end(), 0.0f);
  has_correction_ = false;
  return true;
}

void PeerExchange::flush_notes() {
  for (auto& [event, fields] : channel_.take_notes()) services_.log.event(event, fields);
}

void PeerExchange::every_step(std::int64_t step) {
  step_ = step;
  ++since_start_;
  on_step(step);
}

bool PeerExchange::started(PeerId id) const { return channel_.started(id, services_.membership); }

bool PeerExchange::wait_until_ready(const View& view, std::chrono::milliseconds timeout) {
  return readiness::wait_until_all_ready(services_.membership, view, self_id_, timeout, {});
}

}  // namespace chorus::gossip

namespace chorus::gossip {

std::unique_ptr<Graph> graph_from_option(const std::string& graph) {
  const auto& names = graph_names();
  if (std::find(names.begin(), names.end(), graph) != names.end()) return make_graph(graph);
  GraphOptions options;
  options.file = graph;
  return make_graph("file", options);
}

void declare_graph_option(OptionSet& set, std::string& graph) {
  std::vector<std::string> built_in;
  for (const auto& name : graph_names())
    if (name != "file") built_in.push_back(name);
  set.text("graph", graph,
           fmt::format("Topology graph for choosing partners: {}, or the path of a file of edges (one \"ADDR ADDR\" "
                       "per line)",
                       fmt::join(built_in, ", ")),
           [](const std::string& g) { graph_from_option(g); });
}

void declare_tau_option(OptionSet& set, int& tau) {
  set.integer("tau", tau, "Steps between exchanges", 1, 1000000);
}

const Member* find_member(const View& view, PeerId id) {
  const int i = view.index_of(id);
  return i < 0 ? nullptr : &view.members[static_cast<std::size_t>(i)];
}

}  // namespace chorus::gossip
