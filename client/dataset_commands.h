// `impulse dataset upload|list|rm`: datasets for the analytics jobs.
#ifndef IMPULSE_CLIENT_DATASET_COMMANDS_H_
#define IMPULSE_CLIENT_DATASET_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "client/commands.h"

namespace impulse::cli {

struct DatasetFlags {
  // upload
  std::string file;    // "-" = stdin
  std::string name;    // default: the file's name
  std::string format;  // text, csv, points_f64, points_csv
  std::uint32_t dims = 0;
  std::uint64_t chunk_bytes = 1 << 20;
  bool quiet = false;
  // rm
  std::vector<std::string> names;
};

// Adds the `dataset` subcommand with upload, list and rm to `app`.
CLI::App* AddDatasetCommands(CLI::App& app, DatasetFlags& flags);
// Runs whichever dataset subcommand was given; the process exit status.
int DatasetCommand(const GlobalOptions& global, const CLI::App& dataset,
                   const DatasetFlags& flags);

}  // namespace impulse::cli

#endif  // IMPULSE_CLIENT_DATASET_COMMANDS_H_
