// configs/: which pairs already have a file, and writing a winner's file in a form
// kiln-gen accepts (schedule keys in schema order, a "tuning" provenance object),
// atomically, so an interrupted run never leaves a half-written or stray file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kiln_gen/descriptor.h"

namespace kiln_tune {

// <configs>/<kernel>/<arch>/<hidden>/bs<N>.json
std::filesystem::path config_file(const std::filesystem::path& configs, std::string_view kernel,
                                  std::string_view arch, int64_t hidden, int64_t threshold);

// The thresholds N of the bs<N>.json files in a config set folder, ascending.
std::vector<int64_t> existing_thresholds(const std::filesystem::path& configs, std::string_view kernel,
                                         std::string_view arch, int64_t hidden);

// Removes temporary files an interrupted write left in a config set folder (kiln-gen
// would reject them); returns how many.
int remove_stale_temps(const std::filesystem::path& configs, std::string_view kernel, std::string_view arch,
                       int64_t hidden);

// The schedule an existing config file holds, read as kiln-gen reads it: nothing,
// and `why`, when the file is unreadable or kiln-gen would reject it (an incumbent
// that breaks the current schema is not raced).
std::optional<kiln::gen::Schedule> read_schedule(const std::filesystem::path& file,
                                                 const kiln::gen::KernelDescriptor& kernel, int64_t hidden,
                                                 std::string& why);

// The file's text; throws std::runtime_error when kiln-gen would not accept it.
std::string config_text(const kiln::gen::Schedule& schedule, int64_t hidden, const nlohmann::ordered_json& tuning);

}  // namespace kiln_tune
