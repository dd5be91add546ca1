// The one naming scheme: an instance's name is its file stem, C++ symbol, table
// row name and --explain answer; its generated path mirrors its config path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kiln::gen {

// "rms_norm_fp8_sm90_h4096_bs32"
std::string instance_name(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t threshold);
// "configs/rms_norm_fp8/sm90/4096" (no trailing slash)
std::string set_path(std::string_view kernel, std::string_view arch, int64_t hidden);
// "configs/rms_norm_fp8/sm90/4096/bs32.json"
std::string config_path(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t threshold);
// "rms_norm_fp8/sm90/4096/rms_norm_fp8_sm90_h4096_bs32.cu", relative to generated/
std::string instance_path(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t threshold);
// "dispatch_sm90.cpp", relative to generated/
std::string dispatch_path(std::string_view arch);

}  // namespace kiln::gen
