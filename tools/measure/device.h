// What the GPU is, asked of the driver directly (libcuda through dlopen): no CUDA
// runtime and no context are needed, so kiln-tune's parent process, which never holds
// CUDA state, asks the same way kiln-bench does.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace kiln::measure {

struct DeviceInfo {
  int index = 0;
  std::string name;             // "NVIDIA H100 80GB HBM3"
  std::string arch;             // "sm90"
  int sms = 0;
  std::size_t l2_bytes = 0;
  std::size_t memory_bytes = 0;
  std::string driver;           // the kernel module's version, "580.65.06", or "unknown"
  std::string cuda_driver;      // "13.0": the CUDA version the driver supports
};

// Device `index`, or nothing with `error` saying why (no driver, no such device, ...).
std::optional<DeviceInfo> probe_device(int index, std::string& error);

// "13.0" from a CUDA version number such as 13000.
std::string cuda_version_text(int version);

}  // namespace kiln::measure
