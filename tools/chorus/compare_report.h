#pragma once
// The outputs of `chorus compare` in its output directory: summary.csv (one row per
// strategy, numbers only where measured), summary.md (the setup, the table, what each column
// means, the network mechanism, the plots), and the plots — test accuracy against wall time
// and against bytes sent, loss against step, one line per strategy — as PNG and SVG drawn by
// gnuplot from data files in DIR/plots/. Without gnuplot the data files and the script are
// still written and the summary says how to draw them.
//
// Writing blocks on the file system and on gnuplot; errors writing a file are UserErrors
// naming it. Not thread-safe.
#include <string>
#include <vector>

#include "tools/chorus/compare_metrics.h"

namespace chorus::tools {

// How the comparison was run, for the summary.
struct CompareSetup {
  std::string command;          // the command line
  int peers = 0;
  std::string model;
  int epochs = 0;
  int batch = 0;                // per peer
  std::string lr;               // as given ("default" when not)
  std::uint64_t seed = 0;
  double target_acc = 0;
  int repeat = 1;
  std::int64_t eval_every = 0;
  std::int64_t max_steps = 0;
  std::string network;          // NetProfile::describe()
  std::string mechanism;        // how the network was emulated
  std::vector<std::string> faults;
  std::vector<std::string> extra_peer_args;
};

// A strategy label as a file name: letters, digits, '-' and '_' kept, anything else '_'.
std::string file_safe(const std::string& label);

// Column names of summary.csv, in order.
const std::vector<std::string>& csv_columns();

void write_csv(const std::string& path, const std::vector<StrategySummary>& rows);
// Writes DIR/plots/<strategy>.acc.dat, .loss.dat, DIR/plots/plots.gp and runs gnuplot in
// DIR; returns a one-line account (which files were drawn, or why not).
std::string write_plots(const std::string& dir, const std::vector<StrategySummary>& rows);
void write_markdown(const std::string& path, const CompareSetup& setup, const std::vector<StrategySummary>& rows,
                    const std::string& plots_note);
// The table printed at the end (fixed-width text).
std::vector<std::string> summary_table(const std::vector<StrategySummary>& rows, double target_acc);

}  // namespace chorus::tools
