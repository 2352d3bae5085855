// run_peer: one peer's life as named phases (PeerRun below) — identity, transport, membership,
// data shard from the view, state transfer or resume, training through StepDriver with the
// strategy's exchanges as its hooks, checkpoints, logs, graceful leave.
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
#include "foundations/train/step_driver.h"
#include "foundations/transport/transport_config.h"
#include "foundations/transport/zmq_transport.h"
#include "peers/membership/membership.h"
#include "peers/runtime/member_snapshot.h"
#include "peers/runtime/peer_runtime.h"
#include "peers/exchange/strategy_registry.h"
#include "peers/runtime/state_transfer.h"

namespace chorus {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::int64_t kSnapshotEvery = 100;  // steps between state-transfer snapshots
// Longest wait before the first step for the other members of the starting view to be ready.
constexpr std::chrono::milliseconds kReadyWait{5000};

bool stop_requested() { return StopSignals::requested(); }

std::string hex_id(PeerId id) { return fmt::format("{:016x}", id); }

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

// One peer's life, as named phases run in order by run(): join, restore (from its checkpoint, or
// by state transfer from a live member), get ready, train, leave.
class PeerRun {
 public:
  explicit PeerRun(const PeerConfig& config) : config_(config) {}
  int run();

 private:
  // Identity, log, transport, data and membership; waits (bounded) for --min-peers. Returns
  // whether a seed answered.
  bool join();
  // The trainer on this peer's shard, with the state of its last checkpoint or, when it joins a
  // running swarm, of a live member.
  void restore(bool joined);
  // The strategy and the state server; a swarm that starts together waits (bounded) until
  // every member's strategy can exchange.
  void get_ready();
  // The training loop: StepDriver, with the strategy, membership and checkpoints as its hooks.
  void train();
  // The strategy's last merges, the final evaluation and checkpoint, the announced leave.
  int leave();

  void drain_membership_events();
  void follow_view();
  // Saves the members of `view` beside the checkpoint (MemberSnapshot), for a later restart.
  void remember(const View& view);
  void save_checkpoint(const char* why);
  // This peer's id and its communication so far (CommStats), for step records and the done line.
  nlohmann::json traffic_fields() const;

  const PeerConfig& config_;
  std::unique_ptr<StrategySettings> settings_;
  std::optional<CheckpointStore> store_;
  std::optional<MemberSnapshot> remembered_;  // beside the checkpoint
  std::optional<TrainingState> resume_;
  PeerIdentity identity_;
  std::unique_ptr<RunLog> log_;
  std::unique_ptr<Transport> transport_;
  std::optional<Dataset> train_data_, test_data_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<Trainer> trainer_;
  CommStats stats_;
  std::unique_ptr<HostParams> host_params_;
  std::unique_ptr<PeerServices> services_;
  std::unique_ptr<BackgroundStateServer> state_server_;
  std::unique_ptr<Strategy> strategy_;  // uses the members above: declared (so destroyed) last
  std::uint64_t known_view_ = 0;
  std::size_t view_size_ = 1;
  std::set<PeerId> known_members_;   // the members of view known_view_
  std::set<PeerId> left_gracefully_;  // members that announced their leave (not declared dead)
  std::mutex events_mu_;
  std::vector<MembershipEvent> events_;
  std::chrono::steady_clock::time_point train_start_;
  std::int64_t steps_this_run_ = 0;
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
  remember(view);
}

void PeerRun::remember(const View& view) {
  if (!remembered_) return;
  try {
    remembered_->save(view, identity_.id);
  } catch (const std::exception& e) {
    log_->event("warning", {{"message", e.what()}});
  }
}

nlohmann::json PeerRun::traffic_fields() const {
  return {{"peer", hex_id(identity_.id)},
          {"bytes_sent", stats_.bytes_sent.load()},
          {"bytes_recv", stats_.bytes_recv.load()},
          {"comm_s", stats_.comm_s.load()},
          {"idle_s", stats_.idle_s.load()}};
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

bool PeerRun::join() {
  if (!config_.checkpoint_dir.empty()) {
    store_.emplace(config_.checkpoint_dir);
    identity_ = store_->start_incarnation();
    resume_ = store_->load();
    remembered_.emplace(config_.checkpoint_dir);
  } else {
    identity_ = fresh_identity();
  }
  log_ = std::make_unique<RunLog>(config_.log_path, /*append=*/resume_.has_value());

  TransportConfig tc;
  tc.address = config_.listen;
  if (!config_.key_path.empty()) tc.key = SwarmKey::load(config_.key_path);
  tc.encrypt = config_.encrypt;
  tc.id = identity_.id;
  transport_ = make_zmq_transport(tc);

  train_data_.emplace(load_idx_dataset(config_.data_dir, Split::train));
  test_data_.emplace(load_idx_dataset(config_.data_dir, Split::test));

  Member self;
  self.id = identity_.id;
  self.address = transport_->address();
  self.group = config_.group;
  // The seeds, and every member this peer knew when it last ran: the seeds may have died since.
  std::vector<std::string> join_through = config_.seeds;
  std::size_t remembered = 0;
  if (remembered_) {
    std::string problem;
    for (auto& address : remembered_->load(&problem)) {
      join_through.push_back(std::move(address));
      ++remembered;
    }
    if (!problem.empty()) log_->event("warning", {{"message", problem}});
  }
  membership_ = std::make_unique<Membership>(*transport_, self, std::move(join_through),
                                             MembershipTimings::preset(config_.membership));
  membership_->on_change([this](const MembershipEvent& e) {
    std::lock_guard lock(events_mu_);
    events_.push_back(e);
  });
  const bool joined = membership_->start();
  View view = membership_->view();
  const auto wait_until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(config_.min_peers_wait_s));
  while (static_cast<int>(view.size()) < config_.min_peers && Clock::now() < wait_until && !stop_requested())
    view = membership_->wait_for_change(view.number, std::chrono::milliseconds(100));
  log_->event("start", {{"peer", hex_id(identity_.id)},
                        {"address", self.address},
                        {"incarnation", identity_.incarnation},
                        {"joined", joined},
                        {"remembered", remembered},
                        {"strategy", config_.strategy},
                        {"view", view.size()}});
  return joined;
}

void PeerRun::restore(bool joined) {
  const View view = membership_->view();
  TrainConfig tcfg = config_.train;
  tcfg.shard_index = std::max(0, view.index_of(identity_.id));
  tcfg.shard_count = static_cast<int>(std::max<std::size_t>(1, view.size()));
  trainer_ = std::make_unique<Trainer>(tcfg, *train_data_, *test_data_);

  if (resume_) {
    trainer_->restore(*resume_);
    log_->event("resume", {{"step", resume_->step}, {"epoch", resume_->epoch}});
    return;
  }
  if (!joined || view.size() <= 1) return;
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
    log_->event("state_transfer", {{"from", fetched->from},
                                   {"step", s.step},
                                   {"seconds", std::chrono::duration<double>(Clock::now() - t0).count()}});
  } else {
    log_->event("state_transfer_failed", {{"candidates", candidates.size()}});
  }
}

void PeerRun::get_ready() {
  host_params_ = std::make_unique<HostParams>(trainer_->model());
  services_ = std::make_unique<PeerServices>(
      PeerServices{*transport_, *membership_, trainer_->model(), *host_params_, *log_, stats_, config_.train.seed});
  strategy_ = make_strategy(*services_, *settings_);
  // Joiners are served from the state server's own thread, from snapshots taken here at step
  // boundaries: a peer blocked in a collective or a slow step still answers at once.
  state_server_ = std::make_unique<BackgroundStateServer>(*transport_);

  const View view = membership_->view();
  known_view_ = view.number;
  view_size_ = view.size();
  for (const auto& m : view.members) known_members_.insert(m.id);
  strategy_->on_view(view);
  log_->event("view", describe(view));
  remember(view);

  // Peers that start together begin together: without this the first one ready spends its
  // first exchanges waiting for partners still fetching state or building their strategy,
  // which counts as idle time. Bounded; joiners asking for state meanwhile get it at once.
  // Only at the very start: a peer resumed or given a running swarm's state goes on at once.
  if (config_.min_peers <= 1 || trainer_->steps_done() != 0) return;
  state_server_->note_step(trainer_->steps_done());
  state_server_->publish(trainer_->capture());
  const auto t0 = Clock::now();
  bool ready = false;
  while (!(ready = strategy_->wait_until_ready(membership_->view(), std::chrono::milliseconds(5))) &&
         Clock::now() - t0 < kReadyWait && !stop_requested())
    if (state_server_->wanted()) state_server_->publish(trainer_->capture());
  log_->event("ready", {{"all", ready}, {"seconds", std::chrono::duration<double>(Clock::now() - t0).count()}});
}

void PeerRun::train() {
  // Every thread but this one exists now (transport, membership, strategy, state server).
  if (const std::string error = lower_thread_priority(config_.trainer_nice); !error.empty()) {
    log_->event("warning", {{"message", error}});
    fmt::print(stderr, "chorus peer: {}\n", error);
  }
  StepDriverConfig dc;
  dc.log_every = config_.log_every;
  dc.eval_every = config_.eval_every;
  dc.evaluate_at_end = false;  // leave() evaluates, after the strategy's last merge
  dc.record_first_step = true;
  dc.max_steps = config_.max_steps;

  std::int64_t last_checkpoint = trainer_->steps_done();
  StepHooks hooks;
  hooks.stop = stop_requested;
  hooks.before_step = [&] {
    drain_membership_events();
    follow_view();
    // A snapshot before the first step, when a joiner asks for one, and now and then so that
    // the one served while this peer is blocked (in a collective, a paused process) is never
    // far behind.
    state_server_->note_step(trainer_->steps_done());
    if (steps_this_run_ == 0 || state_server_->wanted() || trainer_->steps_done() % kSnapshotEvery == 0)
      state_server_->publish(trainer_->capture());
  };
  hooks.before_update = [&](std::int64_t step) { strategy_->before_update(step); };
  hooks.after_update = [&](std::int64_t step) { strategy_->after_update(step); };
  hooks.record_fields = [&] {
    nlohmann::json fields = traffic_fields();
    fields["view"] = view_size_;
    return fields;
  };
  hooks.after_step = [&](const StepOutcome& s) {
    ++steps_this_run_;
    if (config_.checkpoint_every > 0 && s.step - last_checkpoint >= config_.checkpoint_every) {
      save_checkpoint("periodic");
      last_checkpoint = s.step;
    }
  };
  if (config_.slowdown > 1.0) {
    // A slower machine computes slower; its network waits are not stretched (that would feed
    // every wait for a slow member back into it), and neither is time it did not run at all
    // (waiting for a core, or stopped by SIGSTOP): the step's computation is its CPU time.
    hooks.stretch = [factor = config_.slowdown](double compute_cpu_s) {
      const double extra = compute_cpu_s * (factor - 1.0);
      std::this_thread::sleep_for(std::chrono::duration<double>(extra));
      return extra;
    };
  }
  train_start_ = Clock::now();
  StepDriver(*trainer_, *log_, dc, std::move(hooks)).run();
}

int PeerRun::leave() {
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
  const double accuracy = trainer_->evaluate();
  save_checkpoint(stopped ? "stop" : "done");
  membership_->leave(std::chrono::milliseconds(1000));
  const double wall = std::chrono::duration<double>(Clock::now() - train_start_).count();
  log_->event("leave", {{"reason", stopped ? "signal" : "done"}});
  nlohmann::json done = traffic_fields();
  done["steps"] = trainer_->steps_done();
  done["wall_s"] = wall;
  log_->done(accuracy, done);
  fmt::print("peer {} {}: final test accuracy {:.4f} after {} steps ({:.1f} s)\n", hex_id(identity_.id),
             stopped ? "stopped" : "done", accuracy, trainer_->steps_done(), wall);
  std::fflush(stdout);
  return 0;
}

int PeerRun::run() {
  settings_ = strategy_settings(config_.strategy, config_.strategy_options);  // a bad option fails before any work
  restore(join());
  get_ready();
  train();
  return leave();
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
