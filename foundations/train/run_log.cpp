#include "foundations/train/run_log.h"

#include <cerrno>
#include <cstring>

#include "foundations/base/error.h"

namespace chorus {

RunLog::RunLog(const std::string& path, bool append) : path_(path) {
  if (path.empty()) return;
  file_ = std::fopen(path.c_str(), append ? "a" : "w");
  if (!file_)
    throw UserError(path + ": cannot open log for writing: " + std::strerror(errno));
}

RunLog::~RunLog() {
  if (file_) std::fclose(file_);
}

double RunLog::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void RunLog::write(const nlohmann::json& line) {
  if (!file_) return;
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0)
    throw UserError(path_ + ": cannot write log: " + std::strerror(errno));
}

void RunLog::step(const StepRecord& r) {
  nlohmann::json line = {{"t", elapsed()},     {"step", r.step},
                         {"epoch", r.epoch},   {"loss", r.loss},
                         {"samples_per_s", r.samples_per_s}};
  if (r.test_acc) line["test_acc"] = *r.test_acc;
  for (const auto& [key, value] : r.extra.items()) line[key] = value;
  write(line);
}

void RunLog::event(const std::string& name, const nlohmann::json& fields) {
  nlohmann::json line = {{"t", elapsed()}, {"event", name}};
  for (const auto& [key, value] : fields.items()) line[key] = value;
  write(line);
}

void RunLog::done(double final_test_acc, const nlohmann::json& fields) {
  nlohmann::json f = fields;
  f["final_test_acc"] = final_test_acc;
  event("done", f);
}

}  // namespace chorus
