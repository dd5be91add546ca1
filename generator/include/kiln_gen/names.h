// The one naming scheme: an instance's name is its file stem, C++ symbol, table
// row name and --explain answer; its generated path mirrors its config path.
// `ranks` is a communicator kernel's tp<R> level (0: a kernel without one).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kiln::gen {

// "rms_norm_fp8_sm90_h4096_bs32"; "allreduce_add_rms_norm_sm90_h4096_tp2_bs32"
std::string instance_name(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t threshold,
                          int64_t ranks = 0);
// "configs/rms_norm_fp8/sm90/4096"; "configs/allreduce_add_rms_norm/sm90/4096/tp2" (no trailing slash)
std::string set_path(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t ranks = 0);
// "configs/rms_norm_fp8/sm90/4096/bs32.json"
std::string config_path(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t threshold,
                        int64_t ranks = 0);
// "rms_norm_fp8/sm90/4096/rms_norm_fp8_sm90_h4096_bs32.cu", relative to generated/
std::string instance_path(std::string_view kernel, std::string_view arch, int64_t hidden, int64_t threshold,
                          int64_t ranks = 0);
// "dispatch_sm90.cpp", relative to generated/
std::string dispatch_path(std::string_view arch);
// "KILN_LEAVE_OUT_RMS_NORM_FP8": defined by meson for the dispatch tables when -Dkernels=
// leaves the kernel out, which removes its rows and declarations
std::string leave_out_macro(std::string_view kernel);

}  // namespace kiln::gen
