#include "device.h"

#include "kiln_gen/descriptor.h"

#include <dlfcn.h>

#include <ctime>
#include <fstream>
#include <regex>

namespace kiln_tune {
namespace {

// The few driver API entry points used here, declared by hand so that this file
// needs no CUDA header (the values are the driver API's and never change).
using CUresult = int;
using CUdevice = int;
constexpr int kAttrSms = 16, kAttrCcMajor = 75, kAttrCcMinor = 76;

std::string kernel_module_version() {
  std::ifstream in("/proc/driver/nvidia/version");
  std::string line;
  std::smatch m;
  if (std::getline(in, line) && std::regex_search(line, m, std::regex(R"(\b(\d{3,}\.\d+(\.\d+)?)\b)"))) return m[1];
  return "unknown";
}

}  // namespace

std::optional<DeviceInfo> probe_device(int index, std::string& error) {
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
  auto cu_mem = reinterpret_cast<CUresult (*)(size_t*, CUdevice)>(sym("cuDeviceTotalMem_v2"));
  if (!cu_init || !cu_get || !cu_name || !cu_attr || !cu_version || !cu_mem) {
    error = "libcuda.so.1 lacks the driver API entry points";
    return std::nullopt;
  }
  CUdevice dev = 0;
  if (CUresult r = cu_init(0); r != 0) {
    error = "cuInit failed (CUresult " + std::to_string(r) + "): no usable GPU";
    return std::nullopt;
  }
  if (CUresult r = cu_get(&dev, index); r != 0) {
    error = "no CUDA device " + std::to_string(index) + " (CUresult " + std::to_string(r) + ")";
    return std::nullopt;
  }
  DeviceInfo d;
  d.index = index;
  char name[256] = {};
  cu_name(name, sizeof name, dev);
  d.name = name;
  int major = 0, minor = 0, version = 0;
  cu_attr(&major, kAttrCcMajor, dev);
  cu_attr(&minor, kAttrCcMinor, dev);
  cu_attr(&d.sms, kAttrSms, dev);
  d.arch = "sm" + std::to_string(major * 10 + minor);
  size_t bytes = 0;
  cu_mem(&bytes, dev);
  d.memory_gib = static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0);
  cu_version(&version);
  d.cuda_driver = std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
  d.driver = kernel_module_version();
  return d;  // the library stays loaded: unloading an initialised driver is not supported
}

std::string gencode_for(const std::string& arch) {
  // kiln-gen's arch table is the build's too: the tuned code is the shipped code.
  const auto gencode = kiln::gen::arch_gencode(arch);
  return gencode ? std::string(*gencode) : std::string();
}

std::string utc_date() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

}  // namespace kiln_tune
