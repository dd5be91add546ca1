// The dispatch tables compiled into this library, one per target arch that has
// config sets (generated/dispatch_<arch>.cpp), and the list of target archs.
#pragma once

#include <span>
#include <string_view>

#include "kiln/detail/table.h"

namespace kiln::runtime {

std::span<const detail::ArchTable* const> tables();
const detail::ArchTable* find_table(std::string_view arch);  // nullptr: no sets for arch
bool is_target_arch(std::string_view arch);                  // the build compiled SASS for it
bool left_out(std::string_view kernel);                      // -Dkernels= left its tuned instances out
const char* target_archs();                                  // "sm90, sm100"
const char* static_arch_name(std::string_view arch);         // the same name with static lifetime

}  // namespace kiln::runtime
