#include "tables.h"

#include "kernels.h"

#include <cstring>
#include <mutex>
#include <set>
#include <string>

#include "kiln_build_archs.h"  // written by meson from the `archs` option

namespace kiln::generated {
extern const kiln::detail::KernelRegistry registry;
#define KILN_DECLARE_TABLE(arch) extern const kiln::detail::ArchTable table_##arch;
KILN_FOR_EACH_TABLE(KILN_DECLARE_TABLE)
#undef KILN_DECLARE_TABLE
}  // namespace kiln::generated

namespace kiln::runtime {

namespace {
#define KILN_TABLE_ADDRESS(arch) &kiln::generated::table_##arch,
const detail::ArchTable* const kTables[] = {KILN_FOR_EACH_TABLE(KILN_TABLE_ADDRESS) nullptr};
#undef KILN_TABLE_ADDRESS
}  // namespace

std::span<const KernelInfo> kernels() { return {generated::registry.rows, generated::registry.count}; }

const KernelInfo* find_kernel(std::string_view name) {
  for (const KernelInfo& k : kernels())
    if (name == k.name) return &k;
  return nullptr;
}

std::span<const detail::ArchTable* const> tables() {
  return {kTables, sizeof(kTables) / sizeof(kTables[0]) - 1};
}

const detail::ArchTable* find_table(std::string_view arch) {
  for (const detail::ArchTable* t : tables())
    if (arch == t->arch) return t;
  return nullptr;
}

namespace {
// Whether `name` is one of the whole names of a meson-written list such as "sm90, sm100".
bool in_list(std::string_view all, std::string_view name) {
  while (!all.empty()) {
    const std::size_t comma = all.find(", ");
    if (all.substr(0, comma) == name) return true;
    if (comma == std::string_view::npos) break;
    all.remove_prefix(comma + 2);
  }
  return false;
}
}  // namespace

bool is_target_arch(std::string_view arch) { return in_list(KILN_TARGET_ARCHS, arch); }

bool left_out(std::string_view kernel) { return in_list(KILN_KERNELS_LEFT_OUT, kernel); }

const char* target_archs() { return KILN_TARGET_ARCHS; }

const char* static_arch_name(std::string_view arch) {
  if (const detail::ArchTable* t = find_table(arch)) return t->arch;
  // A target arch without config sets, or (in tests) any arch: interned once, kept forever.
  static std::mutex mutex;
  static std::set<std::string, std::less<>> names;
  std::lock_guard<std::mutex> lock(mutex);
  return names.emplace(arch).first->c_str();
}

}  // namespace kiln::runtime
