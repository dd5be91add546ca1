#include "kiln_gen/names.h"

namespace kiln::gen {
namespace {

// "/tp2" below the hidden-size folder, "_tp2" in a name; nothing without a communicator.
std::string ranks_part(char separator, int64_t ranks) {
  return ranks > 0 ? separator + std::string("tp") + std::to_string(ranks) : std::string();
}

}  // namespace

std::string instance_name(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t threshold,
                          int64_t ranks) {
  return std::string(kernel) + "_" + std::string(arch) + "_h" + std::to_string(hidden) + ranks_part('_', ranks) +
         "_bs" + std::to_string(threshold);
}

std::string set_path(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t ranks) {
  return "configs/" + std::string(kernel) + "/" + std::string(arch) + "/" + std::to_string(hidden) +
         ranks_part('/', ranks);
}

std::string config_path(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t threshold,
                        int64_t ranks) {
  return set_path(kernel, arch, hidden, ranks) + "/bs" + std::to_string(threshold) + ".json";
}

std::string instance_path(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t threshold,
                          int64_t ranks) {
  return std::string(kernel) + "/" + std::string(arch) + "/" + std::to_string(hidden) + ranks_part('/', ranks) + "/" +
         instance_name(kernel, arch, hidden, threshold, ranks) + ".cu";
}

std::string dispatch_path(std::string_view arch) { return "dispatch_" + std::string(arch) + ".cpp"; }

std::string leave_out_macro(std::string_view kernel) {
  std::string out = "KILN_LEAVE_OUT_";
  for (char c : kernel) out += c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  return out;
}

}  // namespace kiln::gen
