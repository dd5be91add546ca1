#include "kiln_gen/names.h"

namespace kiln::gen {

std::string instance_name(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t threshold) {
  return std::string(kernel) + "_" + std::string(arch) + "_h" + std::to_string(hidden) + "_bs" +
         std::to_string(threshold);
}

std::string set_path(std::string_view kernel, std::string_view arch, int64_t hidden) {
  return "configs/" + std::string(kernel) + "/" + std::string(arch) + "/" + std::to_string(hidden);
}

std::string config_path(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t threshold) {
  return set_path(kernel, arch, hidden) + "/bs" + std::to_string(threshold) + ".json";
}

std::string instance_path(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t threshold) {
  return std::string(kernel) + "/" + std::string(arch) + "/" + std::to_string(hidden) + "/" +
         instance_name(kernel, arch, hidden, threshold) + ".cu";
}

std::string dispatch_path(std::string_view arch) { return "dispatch_" + std::string(arch) + ".cpp"; }

}  // namespace kiln::gen
