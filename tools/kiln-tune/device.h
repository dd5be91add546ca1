// What the GPU is, asked of the driver directly (libcuda through dlopen). No context
// is created, so the tuner process itself never holds CUDA state: all GPU work runs
// in worker processes.
#pragma once

#include <optional>
#include <string>

namespace kiln_tune {

struct DeviceInfo {
  int index = 0;
  std::string name;         // "NVIDIA H100 80GB HBM3"
  std::string arch;         // "sm90"
  int sms = 0;
  double memory_gib = 0;
  std::string driver;       // kernel module version "580.65.06", or "unknown"
  std::string cuda_driver;  // "13.0": the CUDA version the driver supports
};

// The device, or nothing with `error` saying why (no driver, no device, ...).
std::optional<DeviceInfo> probe_device(int index, std::string& error);

// nvcc's -gencode for a kiln arch, as the root meson.build compiles the library:
// "arch=compute_90a,code=sm_90a". Empty for an arch it does not know.
std::string gencode_for(const std::string& arch);

// "2026-11-22" (UTC).
std::string utc_date();

}  // namespace kiln_tune
