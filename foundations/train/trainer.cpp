#include "foundations/train/trainer.h"

#include <algorithm>

#include "foundations/base/error.h"
#include "foundations/data/batch_cursor.h"
#include "foundations/data/gather_batch.h"
#include "foundations/data/shard_indices.h"

namespace chorus {

namespace {
constexpr int kEvalBatch = 1000;

// The offset at the same fraction of an epoch in a shard of `to` samples (to > 0) as `offset`
// is in a shard of `from` (0: unknown, the epoch's start).
std::uint64_t same_fraction(std::uint64_t offset, std::uint64_t from, std::uint64_t to) {
  const double done = from ? std::min(1.0, static_cast<double>(offset) / static_cast<double>(from)) : 0.0;
  return std::min<std::uint64_t>(static_cast<std::uint64_t>(done * static_cast<double>(to)), to - 1);
}
}  // namespace

Trainer::Trainer(const TrainConfig& config, const Dataset& train, const Dataset& test)
    : config_(config),
      train_(train),
      test_(test),
      cursor_(shard_indices(train.size(), config.seed, config.shard_index, config.shard_count),
              config.seed) {
  if (config_.batch < 1) throw UserError("--batch must be at least 1");
  if (config_.epochs < 1) throw UserError("--epochs must be at least 1");
  if (config_.lr < 0) throw UserError("--lr must not be negative");
  if (config_.lr == 0) config_.lr = Optimizer::default_lr(config_.optimizer.name);
  if (cursor_.shard_size() == 0) throw UserError("this peer's data shard is empty");

  backend_ = make_backend(config_.backend);
  const int max_batch = std::max(config_.batch, kEvalBatch);
  model_ = Model::create(config_.model, *backend_, max_batch, config_.seed);
  const SampleShape in = model_->input_shape();
  if (in.size() != train.sample_floats())
    throw UserError("model '" + config_.model + "' expects samples of " +
                    std::to_string(in.size()) + " floats, the data has " +
                    std::to_string(train.sample_floats()));
  OptimizerConfig opt = config_.optimizer;
  opt.seed = config_.seed;
  optimizer_ = Optimizer::create(opt, *backend_, model_->params(), model_->grads(), model_->size());

  schedule_.base_lr = config_.lr;
  schedule_.min_lr = config_.min_lr;
  schedule_.warmup_steps = config_.warmup_steps;
  schedule_.decay = LrSchedule::parse_decay(config_.decay);
  schedule_.gamma = config_.gamma;
  fit_schedule();

  x_ = DeviceBuffer<float>(*backend_, static_cast<std::size_t>(max_batch) * in.size());
  y_ = DeviceBuffer<std::int32_t>(*backend_, static_cast<std::size_t>(max_batch));
}

Trainer::~Trainer() = default;

void Trainer::fit_schedule() {
  const auto batch = static_cast<std::size_t>(config_.batch);
  steps_per_epoch_ = static_cast<std::int64_t>((cursor_.shard_size() + batch - 1) / batch);
  // The steps left in this shard's remaining epochs, after the steps already taken.
  const double remaining_epochs = std::max(0.0, config_.epochs - progress());
  schedule_.total_steps = std::max<std::int64_t>(
      1, optimizer_->steps() + static_cast<std::int64_t>(remaining_epochs * steps_per_epoch_ + 0.5));
  schedule_.step_every = config_.step_every > 0 ? config_.step_every : steps_per_epoch_;
  schedule_.validate();
}

double Trainer::progress() const {
  const std::size_t n = cursor_.shard_size();
  return static_cast<double>(cursor_.epoch()) +
         (n ? static_cast<double>(cursor_.offset()) / static_cast<double>(n) : 0.0);
}

void Trainer::reshard(int index, int count) {
  BatchCursor cursor(shard_indices(train_.size(), config_.seed, index, count), config_.seed);
  if (cursor.shard_size() == 0) throw UserError("this peer's data shard is empty");
  // The same fraction of the epoch on the new shard: a view change late in an epoch does not
  // start the epoch over.
  cursor.seek(cursor_.epoch(), same_fraction(cursor_.offset(), cursor_.shard_size(), cursor.shard_size()));
  cursor_ = std::move(cursor);
  config_.shard_index = index;
  config_.shard_count = count;
  fit_schedule();
}

TrainingState Trainer::capture() {
  TrainingState s;
  s.model = config_.model;
  s.optimizer = optimizer_->name();
  s.step = optimizer_->steps();
  s.epoch = cursor_.epoch();
  s.offset = cursor_.offset();
  s.shard_size = cursor_.shard_size();
  s.params = model_->get_params();
  s.optimizer_state.resize(optimizer_->state_size());
  backend_->to_host(s.optimizer_state.data(), optimizer_->state(),
                    s.optimizer_state.size() * sizeof(float));
  return s;
}

std::uint64_t Trainer::offset_for(const TrainingState& s) const {
  const std::uint64_t n = cursor_.shard_size();
  if (n == 0) return 0;
  if (s.shard_size == 0 || s.shard_size == n) return s.offset % n;  // the same shard (or unknown)
  // Another shard (a state from another peer, or this one's from before a re-deal): the same
  // fraction of the epoch, as reshard() keeps it.
  return same_fraction(s.offset, s.shard_size, n);
}

void Trainer::restore(const TrainingState& s) {
  if (s.model != config_.model)
    throw UserError("the saved state is of model '" + s.model + "', this peer trains '" +
                    config_.model + "'");
  if (s.optimizer != optimizer_->name())
    throw UserError("the saved state is of optimizer '" + s.optimizer + "', this peer uses '" +
                    optimizer_->name() + "'");
  if (s.params.size() != model_->size() || s.optimizer_state.size() != optimizer_->state_size())
    throw UserError("the saved state's buffer sizes do not match this model");
  model_->set_params(s.params);
  backend_->to_device(optimizer_->state(), s.optimizer_state.data(),
                      s.optimizer_state.size() * sizeof(float));
  optimizer_->set_steps(s.step);
  cursor_.seek(s.epoch, offset_for(s));
  fit_schedule();
}

void Trainer::upload_batch(const std::vector<std::uint32_t>& indices, const Dataset& data) {
  gather_batch(data, indices, host_x_, host_y_);
  x_.upload(host_x_.data(), host_x_.size());
  y_.upload(host_y_.data(), host_y_.size());
}

StepResult Trainer::step(const std::function<void()>& before_update) {
  const std::vector<std::uint32_t> indices = cursor_.next(config_.batch);
  const int batch = static_cast<int>(indices.size());
  upload_batch(indices, train_);
  model_->train_batch(x_.data(), y_.data(), batch);
  StepResult result;
  result.samples = batch;
  result.lr = schedule_.at(optimizer_->steps());
  if (before_update) before_update();
  optimizer_->step(result.lr, [&] { model_->train_batch(x_.data(), y_.data(), batch); });
  result.loss = model_->last_loss();
  return result;
}

double Trainer::evaluate() {
  std::size_t correct = 0;
  std::vector<std::uint32_t> indices;
  for (std::size_t start = 0; start < test_.size(); start += kEvalBatch) {
    const std::size_t end = std::min(test_.size(), start + kEvalBatch);
    indices.resize(end - start);
    for (std::size_t i = start; i < end; ++i) indices[i - start] = static_cast<std::uint32_t>(i);
    upload_batch(indices, test_);
    model_->eval_batch(x_.data(), y_.data(), static_cast<int>(indices.size()));
    correct += static_cast<std::size_t>(model_->last_correct());
  }
  return test_.size() ? static_cast<double>(correct) / static_cast<double>(test_.size()) : 0.0;
}

}  // namespace chorus
