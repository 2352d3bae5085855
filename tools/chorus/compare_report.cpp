#include "tools/chorus/compare_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "foundations/base/error.h"
#include "tools/chorus/child_process.h"
#include "tools/chorus/swarm_runner.h"

namespace chorus::tools {
namespace {

namespace fs = std::filesystem;

std::string csv_number(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : ""; }

std::string csv_text(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += "\"\"";
    else if (c == '\n' || c == '\r') q += ' ';
    else q += c;
  }
  return q + "\"";
}

std::string md_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string plot_title(const std::string& strategy) {
  std::string s;
  for (char c : strategy) s += (c == '\'' || c == '\\') ? '_' : c;
  return s;
}

std::ofstream open_for_writing(const std::string& path) {
  std::ofstream out(path);
  if (!out) throw UserError(path + ": cannot write");
  return out;
}

// "0.8512 ± 0.0031 (0.8480–0.8550)" or "-".
std::string accuracy_cell(const StrategySummary& s) {
  if (!std::isfinite(s.acc_mean)) return "-";
  return fmt::format("{:.4f} ± {:.4f} ({:.4f}–{:.4f})", s.acc_mean, s.acc_std, s.acc_min, s.acc_max);
}

std::string target_cell(const StrategySummary& s) {
  if (s.runs == 0) return "-";
  if (!std::isfinite(s.time_to_target_s)) return s.peers_finished > 0 ? "not reached" : "-";
  std::string cell = fmt::format("{:.1f}", s.time_to_target_s);
  if (s.target_reached_runs < s.runs) cell += fmt::format(" ({}/{} runs)", s.target_reached_runs, s.runs);
  return cell;
}

struct Plot {
  const char* name;
  const char* title;
  const char* xlabel;
  const char* ylabel;
  const char* columns;
  const char* file_suffix;
  const char* key;
  bool (*has_data)(const StrategySummary&);
};

const Plot kPlots[] = {
    {"acc_vs_time", "Test accuracy against wall time", "wall time since the swarm started (s)",
     "test accuracy (mean over peers)", "1:3", ".acc.dat", "below",
     [](const StrategySummary& s) { return !s.acc_vs_time.empty(); }},
    {"acc_vs_bytes", "Test accuracy against bytes sent", "MB sent per peer (bytes of all peers / peers)", "test accuracy (mean over peers)",
     "2:3", ".acc.dat", "below", [](const StrategySummary& s) { return !s.acc_vs_bytes.empty(); }},
    {"loss_vs_step", "Training loss against step", "step", "training loss (mean over peers)", "1:2", ".loss.dat",
     "below", [](const StrategySummary& s) { return !s.loss_vs_step.empty(); }},
};

}  // namespace

std::string file_safe(const std::string& label) {
  std::string s;
  for (char c : label) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return s.empty() ? "unnamed" : s;
}

const std::vector<std::string>& csv_columns() {
  static const std::vector<std::string> columns = {
      "strategy",         "status",          "runs",           "runs_ok",
      "peers_finished",   "final_acc_mean",  "final_acc_std",  "final_acc_min",
      "final_acc_max",    "time_to_target_s", "target_reached_runs", "steps_per_s",
      "bytes_per_peer_step", "idle_fraction", "param_divergence_rel", "param_divergence_abs",
      "wall_s",           "start_s",         "note"};
  return columns;
}

void write_csv(const std::string& path, const std::vector<StrategySummary>& rows) {
  auto out = open_for_writing(path);
  const auto& cols = csv_columns();
  for (std::size_t i = 0; i < cols.size(); ++i) out << (i ? "," : "") << cols[i];
  out << "\n";
  for (const auto& s : rows) {
    out << csv_text(s.strategy) << "," << csv_text(s.status) << "," << s.runs << "," << s.runs_ok << ","
        << s.peers_finished << "," << csv_number(s.acc_mean) << "," << csv_number(s.acc_std) << ","
        << csv_number(s.acc_min) << "," << csv_number(s.acc_max) << "," << csv_number(s.time_to_target_s) << ","
        << s.target_reached_runs << "," << csv_number(s.steps_per_s) << "," << csv_number(s.bytes_per_peer_step)
        << "," << csv_number(s.idle_fraction) << "," << csv_number(s.divergence_rel) << ","
        << csv_number(s.divergence_abs) << "," << csv_number(s.wall_s) << "," << csv_number(s.start_s) << ","
        << csv_text(s.note) << "\n";
  }
  if (!out) throw UserError(path + ": cannot write");
}

std::string write_plots(const std::string& dir, const std::vector<StrategySummary>& rows) {
  const std::string data_dir = dir + "/plots";
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) throw UserError(data_dir + ": cannot create: " + ec.message());
  for (const auto& s : rows) {
    const std::string base = data_dir + "/" + file_safe(s.strategy);
    auto acc = open_for_writing(base + ".acc.dat");
    acc << "# " << s.strategy << " (repeat " << s.curves_repeat
        << "): wall time (s), MB sent per peer, test accuracy (mean over its live peers)\n";
    for (std::size_t i = 0; i < s.acc_vs_time.size(); ++i)
      acc << fmt::format("{:.3f} {:.4f} {:.5f}\n", s.acc_vs_time[i].x,
                         i < s.acc_vs_bytes.size() ? s.acc_vs_bytes[i].x : 0.0, s.acc_vs_time[i].y);
    auto loss = open_for_writing(base + ".loss.dat");
    loss << "# " << s.strategy << ": step, training loss (mean over peers and repeats)\n";
    for (const auto& p : s.loss_vs_step) loss << fmt::format("{:.0f} {:.5f}\n", p.x, p.y);
  }

  std::string script =
      "# Draws the plots of summary.md from the data in plots/: gnuplot plots/plots.gp (run in the output "
      "directory).\nset grid\nset datafile commentschars '#'\n"
      "# Ten distinct colours, then the same with dashes.\n";
  const char* colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  for (int i = 0; i < 20; ++i)
    script += fmt::format("set linetype {} lc rgb '{}' lw 2 pt 7 ps 0.5 dt {}\n", i + 1, colours[i % 10],
                          i < 10 ? 1 : 2);
  script += "set linetype cycle 20\n";
  for (const auto& plot : kPlots) {
    std::string series;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& s = rows[i];
      if (!plot.has_data(s)) continue;
      // The line type follows the strategy's row, so a strategy has one colour in every plot.
      series += fmt::format("{}'plots/{}{}' using {} with linespoints lt {} title '{}'",
                            series.empty() ? "" : ", ", file_safe(s.strategy), plot.file_suffix, plot.columns,
                            i % 20 + 1, plot_title(s.strategy));
    }
    if (series.empty()) series = "[0:1][0:1] -1 notitle";
    script += fmt::format(
        "\nset title '{}'\nset xlabel '{}'\nset ylabel '{}'\nset key {}\nunset label\n{}"
        "set terminal pngcairo size 960,640 noenhanced font ',11'\nset output '{}.png'\nplot {}\n"
        "set terminal svg size 960,640 noenhanced dynamic\nset output '{}.svg'\nreplot\nunset output\n",
        plot.title, plot.xlabel, plot.ylabel, plot.key,
        series.rfind("[0:1]", 0) == 0 ? "set label 'no data' at graph 0.5,0.5 center\n" : "", plot.name, series,
        plot.name);
  }
  {
    auto out = open_for_writing(data_dir + "/plots.gp");
    out << script;
  }
  const CommandOutput version = capture_command({"gnuplot", "--version"});
  if (version.exit_code != 0)
    return "gnuplot was not found: the plot data and script are in plots/ (apt-get install gnuplot-nox, then run "
           "`gnuplot plots/plots.gp` in this directory)";
  std::string v = version.output;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  const CommandOutput drawn = capture_command({"sh", "-c", "cd \"$0\" && gnuplot plots/plots.gp", dir});
  if (drawn.exit_code != 0)
    return fmt::format("{} failed to draw the plots: {}", v, drawn.output.substr(0, 300));
  return fmt::format("drawn by {} from the data in plots/", v);
}

void write_markdown(const std::string& path, const CompareSetup& setup, const std::vector<StrategySummary>& rows,
                    const std::string& plots_note) {
  auto out = open_for_writing(path);
  std::string names;
  for (const auto& s : rows) names += (names.empty() ? "" : ", ") + s.strategy;
  out << "# chorus compare: " << names << "\n\n";
  out << "Command: `" << setup.command << "`\n\n";
  out << "| setting | value |\n|---|---|\n";
  out << fmt::format("| peers | {} |\n", setup.peers);
  out << fmt::format("| model | {} |\n", setup.model);
  out << fmt::format("| epochs | {} over each peer's shard{} |\n", setup.epochs,
                     setup.max_steps > 0 ? fmt::format(" (at most {} steps)", setup.max_steps) : "");
  out << fmt::format("| batch | {} per peer; total batch {} (peers × per-peer batch) |\n", setup.batch,
                     setup.batch * setup.peers);
  out << fmt::format("| learning rate | {} (same schedule for every strategy: warm-up, then cosine decay over the "
                     "epochs) |\n",
                     setup.lr);
  out << fmt::format("| seed | {} (same initialisation, shards and shuffling for every strategy) |\n", setup.seed);
  out << fmt::format("| evaluation | test set every {} steps and at the end |\n", setup.eval_every);
  out << fmt::format("| target accuracy | {} |\n", setup.target_acc);
  out << fmt::format("| repeats | {} |\n", setup.repeat);
  out << fmt::format("| network | {} |\n", md_text(setup.network));
  out << fmt::format("| network mechanism | {} |\n", md_text(setup.mechanism));
  std::string faults;
  for (const auto& f : setup.faults) faults += (faults.empty() ? "" : ", ") + ("`" + f + "`");
  out << fmt::format("| faults | {} |\n", faults.empty() ? "none" : faults);
  if (!setup.extra_peer_args.empty()) {
    std::string extra;
    for (const auto& a : setup.extra_peer_args) extra += (extra.empty() ? "" : " ") + a;
    out << fmt::format("| passed to every peer | `{}` |\n", extra);
  }

  out << "\n## Results\n\n";
  out << fmt::format("| strategy | status | final test accuracy: mean ± sd (min–max) | time to {} (s) | steps/s | "
                     "KB sent per peer per step | idle on communication | parameter divergence | wall time (s) | all training "
                     "from (s) |\n",
                     setup.target_acc);
  out << "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& s : rows) {
    out << fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", s.strategy, md_text(s.status),
                       accuracy_cell(s), target_cell(s), fmt_or_dash(s.steps_per_s, "{:.1f}"),
                       fmt_or_dash(s.bytes_per_peer_step / 1e3, "{:.1f}"),
                       std::isfinite(s.idle_fraction) ? fmt::format("{:.1f}%", 100 * s.idle_fraction) : "-",
                       fmt_or_dash(s.divergence_rel, "{:.4f}"), fmt_or_dash(s.wall_s, "{:.1f}"),
                       fmt_or_dash(s.start_s, "{:.1f}"));
  }
  bool any_note = false;
  for (const auto& s : rows) {
    if (s.note.empty()) continue;
    if (!any_note) out << "\n";
    any_note = true;
    out << fmt::format("- **{}** ({}): {}\n", s.strategy, s.status, md_text(s.note));
  }

  out << "\n## Plots\n\n";
  out << "Plots " << plots_note << ". The accuracy plots show one run per strategy (the first repeat that "
         "finished cleanly; y: the mean over its live peers of each one's latest test accuracy); the loss plot "
         "averages all peers and repeats at each step.\n\n";
  out << "![Test accuracy against wall time](acc_vs_time.svg)\n\n";
  out << "![Test accuracy against bytes sent](acc_vs_bytes.svg)\n\n";
  out << "![Training loss against step](loss_vs_step.svg)\n\n";

  out << "## What the columns mean\n\n"
         "- **status**: ok, or what went wrong in at least one run: `failed` (a peer exited with an error that "
         "no fault explains), `timeout`, `interrupted`; `unavailable` in runs by an older chorus, which started "
         "the peers of a strategy it did not have.\n"
         "- **final test accuracy**: each peer's accuracy on the whole test set after its last step; mean, sample "
         "standard deviation, min and max over all peers of all repeats (peers killed by a fault are left out).\n"
         "- **time to target**: seconds from the swarm's start (first peer launched; data loading and joining "
         "included) until every peer that finished had evaluated at or above the target; the mean over the runs "
         "that got there (the count is shown when some did not).\n"
         "- **steps/s**: per peer, optimizer steps taken over the wall time of its training loop, averaged.\n"
         "- **KB sent per peer per step**: bytes a peer's strategy sent (payload frames, all partners) divided by "
         "its steps, averaged over peers (CSV: bytes).\n"
         "- **idle on communication**: the share of a peer's training wall time its training thread waited on "
         "communication (the strategy's idle_s), averaged over peers.\n"
         "- **parameter divergence**: the largest distance ‖θi − θj‖₂ between two peers' final parameters "
         "(from their final checkpoints), divided by the mean ‖θ‖₂; the largest over repeats (CSV: also the "
         "absolute distance). 0 means all peers ended with the same model.\n"
         "- **wall time**: from the first peer's launch to the last peer's exit, mean over repeats.\n"
         "- **all training from**: when the last of the initial peers took its first step (data loading, "
         "joining and any state transfer before it), mean over repeats; a time to target is only comparable "
         "between strategies together with it.\n";
  if (!out) throw UserError(path + ": cannot write");
}

std::vector<std::string> summary_table(const std::vector<StrategySummary>& rows, double target_acc) {
  std::size_t width = 16;
  for (const auto& s : rows) width = std::max(width, s.strategy.size());
  const auto line = [&](const std::string& name, const std::string& status, const std::string& acc,
                        const std::string& sd, const std::string& target, const std::string& speed,
                        const std::string& bytes, const std::string& idle, const std::string& divergence,
                        const std::string& wall, const std::string& start) {
    return fmt::format("{:<{}} {:<12} {:>8} {:>7} {:>12} {:>8} {:>10} {:>6} {:>9} {:>8} {:>8}", name, width, status,
                       acc, sd, target, speed, bytes, idle, divergence, wall, start);
  };
  std::vector<std::string> lines;
  lines.push_back(line("strategy", "status", "acc", "sd", fmt::format("t->{:.2f} s", target_acc), "steps/s",
                       "KB/step", "idle", "diverg.", "wall s", "start s"));
  for (const auto& s : rows) {
    std::string target = "-";
    if (std::isfinite(s.time_to_target_s)) target = fmt::format("{:.1f}", s.time_to_target_s);
    else if (s.peers_finished > 0) target = "never";
    lines.push_back(line(s.strategy, s.status.substr(0, 12), fmt_or_dash(s.acc_mean, "{:.4f}"),
                         fmt_or_dash(s.acc_std, "{:.4f}"), target, fmt_or_dash(s.steps_per_s, "{:.1f}"),
                         fmt_or_dash(s.bytes_per_peer_step / 1e3, "{:.1f}"),
                         std::isfinite(s.idle_fraction) ? fmt::format("{:.0f}%", 100 * s.idle_fraction) : "-",
                         fmt_or_dash(s.divergence_rel, "{:.4f}"), fmt_or_dash(s.wall_s, "{:.1f}"),
                         fmt_or_dash(s.start_s, "{:.1f}")));
  }
  return lines;
}

}  // namespace chorus::tools
