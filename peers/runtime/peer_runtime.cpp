// The peer loop: identity, transport, membership, data shard from the view, state transfer
// or resume, training with the strategy's exchanges, checkpoints, logs, graceful leave.
#include <fmt/format.h>
#include <sodium.h>

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <ctime>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "foundations/base/error.h"
#include "foundations/base/stop_signals.h"
#include "foundations/crypto/swarm_key.h"
#include "foundations/data/dataset.h"
#include "foundations/train/checkpoint_store.h"
#include "foundations/train/run_log.h"
#include "foundations/transport/transport_config.h"
#include "foundations/transport/zmq_transport.h"
#include "peers/membership/membership.h"
#include "peers/runtime/peer_runtime.h"
#include "peers/runtime/state_transfer.h"

namespace chorus {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::int64_t kSnapshotEvery = 100;  // steps between state-transfer snapshots
// Longest wait before the first step for the other members of the starting view to be ready.
constexpr std::chrono::milliseconds kReadyWait{5000};

bool stop_requested() { return StopSignals::requested(); }

std::string hex_id(PeerId id) { return fmt::format("{:016x}", id); }

// CPU time the calling thread has used, in seconds.
double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

nlohmann::json describe(const View& view) {
  nlohmann::json members = nlohmann::json::array();
  for (const auto& m : view.members) members.push_back(m.address);
  return {{"view", view.size()}, {"view_number", view.number}, {"members", members}};
}

PeerIdentity fresh_identity() {
  if (sodium_init() < 0) throw UserError("libsodium failed to initialise");
  PeerIdentity id;
  while (id.id == 0) randombytes_buf(&id.id, sizeof id.id);
  id.incarnation = 1;
  return id;
}

// Lowers the calling thread's (and only its) CPU priority to `nice` (Linux nice values are per
// thread); threads it starts later inherit it. Returns an error text, empty on success.
std::string lower_thread_priority(int nice) {
  if (nice <= 0) return {};
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) == 0) return {};
  return fmt::format("could not lower the training thread's priority to nice {}: {}", nice, std::strerror(errno));
}

class PeerRun {
 public:
  explicit PeerRun(const PeerConfig& config) : config_(config) {}
  int run();

 private:
  void drain_membership_events();
  void follow_view();
  void log_step(const StepResult& r, std::optional<double> test_acc, double window_s,
                std::int64_t window_samples);
  void save_checkpoint(const char* why);

  const PeerConfig& config_;
  std::optional<CheckpointStore> store_;
  PeerIdentity identity_;
  std::unique_ptr<RunLog> log_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<Trainer> trainer_;
  CommStats stats_;
  std::unique_ptr<HostParams> host_params_;
  std::unique_ptr<PeerServices> services_;
  std::unique_ptr<Strategy> strategy_;  // uses the members above: declared (so destroyed) last
  std::uint64_t known_view_ = 0;
  std::size_t view_size_ = 1;
  std::set<PeerId> known_members_;   // the members of view known_view_
  std::set<PeerId> left_gracefully_;  // members that announced their leave (not declared dead)
  std::mutex events_mu_;
  std::vector<MembershipEvent> events_;
};

void PeerRun::drain_membership_events() {
  std::vector<MembershipEvent> events;
  {
    std::lock_guard lock(events_mu_);
    events.swap(events_);
  }
  for (const auto& e : events) {
    log_->event(membership_event_name(e.kind), {{"member", hex_id(e.member.id)},
                                                {"address", e.member.address},
                                                {"view_number", e.view_number}});
    if (e.kind == MembershipEvent::Kind::leave) left_gracefully_.insert(e.member.id);
    if (e.kind == MembershipEvent::Kind::join) left_gracefully_.erase(e.member.id);
  }
}

void PeerRun::follow_view() {
  const View view = membership_->view();
  if (view.number == known_view_) return;
  known_view_ = view.number;
  view_size_ = view.size();
  // Members that left gracefully while this peer is in its last epoch finished theirs (or were
  // stopped near the end): their shards are covered, and re-dealing would have the others
  // train the rest of the last epoch over again on larger shards. Deaths and joins re-deal.
  std::set<PeerId> members;
  for (const auto& m : view.members) members.insert(m.id);
  bool only_finished_left = members.size() < known_members_.size();
  for (PeerId id : members) only_finished_left = only_finished_left && known_members_.count(id) > 0;
  for (PeerId id : known_members_)
    if (!members.count(id)) only_finished_left = only_finished_left && left_gracefully_.count(id) > 0;
  only_finished_left = only_finished_left && trainer_->cursor().epoch() + 1 >= trainer_->config().epochs;
  known_members_ = std::move(members);
  const int index = view.index_of(identity_.id);
  if (index >= 0 && !only_finished_left) {
    const TrainConfig& tc = trainer_->config();
    if (index != tc.shard_index || static_cast<int>(view.size()) != tc.shard_count)
      trainer_->reshard(index, static_cast<int>(view.size()));
  }
  log_->event("view", describe(view));
  strategy_->on_view(view);
}

void PeerRun::log_step(const StepResult& r, std::optional<double> test_acc, double window_s,
                       std::int64_t window_samples) {
  StepRecord rec;
  rec.step = trainer_->steps_done();
  rec.epoch = trainer_->cursor().epoch();
  rec.loss = r.loss;
  rec.samples_per_s = window_s > 0 ? window_samples / window_s : 0;
  rec.test_acc = test_acc;
  rec.extra = {{"peer", hex_id(identity_.id)},
               {"view", view_size_},
               {"lr", r.lr},
               {"bytes_sent", stats_.bytes_sent.load()},
               {"bytes_recv", stats_.bytes_recv.load()},
               {"comm_s", stats_.comm_s.load()},
               {"idle_s", stats_.idle_s.load()}};
  log_->step(rec);
}

void PeerRun::save_checkpoint(const char* why) {
  if (!store_) return;
  const auto t0 = Clock::now();
  store_->save(trainer_->capture());
  log_->event("checkpoint",
              {{"step", trainer_->steps_done()},
               {"reason", why},
               {"seconds", std::chrono::duration<double>(Clock::now() - t0).count()}});
}

int PeerRun::run() {
  std::optional<TrainingState> resume;
  if (!config_.checkpoint_dir.empty()) {
    store_.emplace(config_.checkpoint_dir);
    identity_ = store_->start_incarnation();
    resume = store_->load();
  } else {
    identity_ = fresh_identity();
  }
  log_ = std::make_unique<RunLog>(config_.log_path, /*append=*/resume.has_value());

  TransportConfig tc;
  tc.address = config_.listen;
  if (!config_.key_path.empty()) tc.key = SwarmKey::load(config_.key_path);
  tc.encrypt = config_.encrypt;
  tc.id = identity_.id;
  transport_ = make_zmq_transport(tc);

  const Dataset train = load_idx_dataset(config_.data_dir, Split::train);
  const Dataset test = load_idx_dataset(config_.data_dir, Split::test);

  Member self;
  self.id = identity_.id;
  self.address = transport_->address();
  self.group = config_.group;
  membership_ = std::make_unique<Membership>(*transport_, self, config_.seeds,
                                             MembershipTimings::preset(config_.membership));
  membership_->on_change([this](const MembershipEvent& e) {
    std::lock_guard lock(events_mu_);
    events_.push_back(e);
  });
  const bool joined = membership_->start();
  View view = membership_->view();
  const auto wait_until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(config_.min_peers_wait_s));
  while (static_cast<int>(view.size()) < config_.min_peers && Clock::now() < wait_until &&
         !stop_requested())
    view = membership_->wait_for_change(view.number, std::chrono::milliseconds(100));
  log_->event("start", {{"peer", hex_id(identity_.id)},
                        {"address", self.address},
                        {"incarnation", identity_.incarnation},
                        {"joined", joined},
                        {"strategy", config_.strategy.name},
                        {"view", view.size()}});

  TrainConfig tcfg = config_.train;
  const int index = std::max(0, view.index_of(identity_.id));
  tcfg.shard_index = index;
  tcfg.shard_count = static_cast<int>(std::max<std::size_t>(1, view.size()));
  trainer_ = std::make_unique<Trainer>(tcfg, train, test);

  if (resume) {
    trainer_->restore(*resume);
    log_->event("resume", {{"step", resume->step}, {"epoch", resume->epoch}});
  } else if (joined && view.size() > 1) {
    std::vector<std::string> candidates;
    for (const auto& m : view.members)
      if (m.id != identity_.id) candidates.push_back(m.address);
    const auto t0 = Clock::now();
    if (auto fetched = fetch_state(*transport_, candidates, std::chrono::milliseconds(3000))) {
      TrainingState s = std::move(fetched->state);
      // The same fraction of the same epoch on this peer's shard, so that it finishes with the
      // others; a state without its shard size (an older peer) starts the epoch over.
      if (s.shard_size == 0) s.offset = 0;
      trainer_->restore(s);
      log_->event("state_transfer",
                  {{"from", fetched->from},
                   {"step", s.step},
                   {"seconds", std::chrono::duration<double>(Clock::now() - t0).count()}});
    } else {
      log_->event("state_transfer_failed", {{"candidates", candidates.size()}});
    }
  }

  host_params_ = std::make_unique<HostParams>(trainer_->model());
  services_ = std::make_unique<PeerServices>(PeerServices{
      *transport_, *membership_, trainer_->model(), *host_params_, *log_, stats_,
      config_.strategy, config_.train.seed});
  strategy_ = make_strategy(*services_);
  // Joiners are served from the state server's own thread, from snapshots taken here at step
  // boundaries: a peer blocked in a collective or a slow step still answers at once.
  BackgroundStateServer state_server(*transport_);

  known_view_ = view.number;
  view_size_ = view.size();
  for (const auto& m : view.members) known_members_.insert(m.id);
  strategy_->on_view(view);
  log_->event("view", describe(view));

  // Peers that start together begin together: without this the first one ready spends its
  // first exchanges waiting for partners still fetching state or building their strategy,
  // which counts as idle time. Bounded; joiners asking for state meanwhile get it at once.
  // Only at the very start: a peer resumed or given a running swarm's state goes on at once.
  if (config_.min_peers > 1 && trainer_->steps_done() == 0) {
    state_server.note_step(trainer_->steps_done());
    state_server.publish(trainer_->capture());
    const auto t0 = Clock::now();
    bool ready = false;
    while (!(ready = strategy_->wait_until_ready(membership_->view(), std::chrono::milliseconds(5))) &&
           Clock::now() - t0 < kReadyWait && !stop_requested())
      if (state_server.wanted()) state_server.publish(trainer_->capture());
    log_->event("ready", {{"all", ready}, {"seconds", std::chrono::duration<double>(Clock::now() - t0).count()}});
  }

  std::int64_t window_samples = 0;
  double window_s = 0;
  double last_acc = -1;
  std::int64_t steps_this_run = 0;
  std::int64_t last_checkpoint = trainer_->steps_done();
  std::int64_t last_epoch = trainer_->cursor().epoch();
  // Every thread but this one exists now (transport, membership, strategy, state server).
  if (const std::string error = lower_thread_priority(config_.trainer_nice); !error.empty()) {
    log_->event("warning", {{"message", error}});
    fmt::print(stderr, "chorus peer: {}\n", error);
  }
  const auto start = Clock::now();
  while (!stop_requested() && !trainer_->finished() &&
         (config_.max_steps == 0 || steps_this_run < config_.max_steps)) {
    drain_membership_events();
    follow_view();
    // A snapshot before the first step, when a joiner asks for one, and now and then so that
    // the one served while this peer is blocked (in a collective, a paused process) is never
    // far behind.
    state_server.note_step(trainer_->steps_done());
    if (steps_this_run == 0 || state_server.wanted() || trainer_->steps_done() % kSnapshotEvery == 0)
      state_server.publish(trainer_->capture());

    const auto t0 = Clock::now();
    // The training thread's CPU time, read only when a slowdown needs it (a system call each).
    const bool slowed = config_.slowdown > 1.0;
    const auto cpu = [slowed] { return slowed ? thread_cpu_seconds() : 0.0; };
    const double cpu0 = cpu();
    const std::int64_t next = trainer_->steps_done() + 1;
    double exchange_cpu = 0;  // CPU time inside the strategy: not computation
    const StepResult r = trainer_->step([&] {
      const double e0 = cpu();
      strategy_->before_update(next);
      exchange_cpu += cpu() - e0;
    });
    const double e0 = cpu();
    strategy_->after_update(trainer_->steps_done());
    exchange_cpu += cpu() - e0;
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (slowed) {
      // An emulated slower machine computes slower; its network waits are not stretched (that
      // would feed every wait for a slow member back into it), and neither is time it did not
      // run at all (waiting for a core, or stopped by SIGSTOP: a 4 s stop stretched 20 times
      // kept a peer away for 76 s): the computation is the training thread's CPU time.
      const double compute = std::max(0.0, thread_cpu_seconds() - cpu0 - exchange_cpu);
      std::this_thread::sleep_for(std::chrono::duration<double>(compute * (config_.slowdown - 1.0)));
      dt += compute * (config_.slowdown - 1.0);
    }
    ++steps_this_run;
    window_s += dt;
    window_samples += r.samples;
    if (!std::isfinite(r.loss))
      throw UserError(fmt::format("training diverged: the loss is {} at step {}; lower --lr",
                                  r.loss, trainer_->steps_done()));

    std::optional<double> acc;
    const std::int64_t epoch = trainer_->cursor().epoch();
    const bool eval = config_.eval_every > 0 ? trainer_->steps_done() % config_.eval_every == 0
                                             : epoch > last_epoch;
    last_epoch = epoch;
    if (eval) last_acc = *(acc = trainer_->evaluate());
    if (trainer_->steps_done() % config_.log_every == 0 || eval || steps_this_run == 1) {
      log_step(r, acc, window_s, window_samples);
      window_s = 0;
      window_samples = 0;
    }
    if (config_.checkpoint_every > 0 &&
        trainer_->steps_done() - last_checkpoint >= config_.checkpoint_every) {
      save_checkpoint("periodic");
      last_checkpoint = trainer_->steps_done();
    }
  }

  const bool stopped = stop_requested();
  drain_membership_events();
  // The strategy's last words first (an overlapped merge still in flight is applied there),
  // so that the accuracy reported and the final checkpoint are of the model this peer ends with.
  try {
    strategy_->finish();
  } catch (...) {
    save_checkpoint(stopped ? "stop" : "done");  // what was trained is kept either way
    throw;
  }
  last_acc = trainer_->evaluate();
  save_checkpoint(stopped ? "stop" : "done");
  membership_->leave(std::chrono::milliseconds(1000));
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  log_->event("leave", {{"reason", stopped ? "signal" : "done"}});
  log_->done(last_acc, {{"peer", hex_id(identity_.id)},
                        {"steps", trainer_->steps_done()},
                        {"wall_s", wall},
                        {"bytes_sent", stats_.bytes_sent.load()},
                        {"bytes_recv", stats_.bytes_recv.load()},
                        {"comm_s", stats_.comm_s.load()},
                        {"idle_s", stats_.idle_s.load()}});
  fmt::print("peer {} {}: final test accuracy {:.4f} after {} steps ({:.1f} s)\n",
             hex_id(identity_.id), stopped ? "stopped" : "done", last_acc,
             trainer_->steps_done(), wall);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int run_peer(const PeerConfig& config) {
  // The first SIGINT or SIGTERM asks for a graceful leave; a second one ends the process at
  // once. Held until the peer's parts are gone: a stop during their shutdown is no crash.
  StopSignals stop_signals({.hangup = false, .exit_on_second = true});
  std::signal(SIGPIPE, SIG_IGN);
  PeerRun run(config);
  return run.run();
}

}  // namespace chorus
