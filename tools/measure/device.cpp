// The device through the driver API: see device.h.
#include "measure/device.h"

#include <dlfcn.h>

#include <fstream>
#include <regex>

namespace kiln::measure {
namespace {

// The few driver API entry points used here, declared by hand so that this file needs
// no CUDA header (the values are the driver API's and never change).
using CUresult = int;
using CUdevice = int;
constexpr int kAttrSms = 16, kAttrL2Bytes = 38, kAttrCcMajor = 75, kAttrCcMinor = 76;

// The NVIDIA kernel module's version ("580.65.06"); the CUDA APIs do not report it.
std::string kernel_module_version() {
  std::ifstream in("/proc/driver/nvidia/version");
  std::string line;
  std::smatch m;
  if (std::getline(in, line) && std::regex_search(line, m, std::regex(R"(\b(\d{3,}\.\d+(\.\d+)?)\b)"))) return m[1];
  return "unknown";
}

}  // namespace

std::string cuda_version_text(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

std::optional<DeviceInfo> probe_device(int index, std::string& error) {
  // The library stays loaded: unloading an initialised driver is not supported.
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    error = "no CUDA driver (libcuda.so.1 not found)";
    return std::nullopt;
  }
  auto sym = [&](const char* name) { return dlsym(lib, name); };
  auto cu_init = reinterpret_cast<CUresult (*)(unsigned)>(sym("cuInit"));
  auto cu_get = reinterpret_cast<CUresult (*)(CUdevice*, int)>(sym("cuDeviceGet"));
  auto cu_name = reinterpret_cast<CUresult (*)(char*, int, CUdevice)>(sym("cuDeviceGetName"));
  auto cu_attr = reinterpret_cast<CUresult (*)(int*, int, CUdevice)>(sym("cuDeviceGetAttribute"));
  auto cu_version = reinterpret_cast<CUresult (*)(int*)>(sym("cuDriverGetVersion"));
  auto cu_mem = reinterpret_cast<CUresult (*)(std::size_t*, CUdevice)>(sym("cuDeviceTotalMem_v2"));
  if (!cu_init || !cu_get || !cu_name || !cu_attr || !cu_version || !cu_mem) {
    error = "libcuda.so.1 lacks the driver API entry points";
    return std::nullopt;
  }
  if (CUresult r = cu_init(0); r != 0) {
    error = "cuInit failed (CUresult " + std::to_string(r) + "): no usable GPU";
    return std::nullopt;
  }
  CUdevice dev = 0;
  if (CUresult r = cu_get(&dev, index); r != 0) {
    error = "no CUDA device " + std::to_string(index) + " (CUresult " + std::to_string(r) + ")";
    return std::nullopt;
  }
  DeviceInfo d;
  d.index = index;
  char name[256] = {};
  cu_name(name, sizeof name, dev);
  d.name = name;
  int major = 0, minor = 0, l2 = 0, version = 0;
  cu_attr(&major, kAttrCcMajor, dev);
  cu_attr(&minor, kAttrCcMinor, dev);
  cu_attr(&d.sms, kAttrSms, dev);
  cu_attr(&l2, kAttrL2Bytes, dev);
  d.arch = "sm" + std::to_string(major * 10 + minor);
  d.l2_bytes = static_cast<std::size_t>(l2);
  cu_mem(&d.memory_bytes, dev);
  cu_version(&version);
  d.cuda_driver = cuda_version_text(version);
  d.driver = kernel_module_version();
  return d;
}

}  // namespace kiln::measure
