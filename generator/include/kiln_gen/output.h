// The edge where files are written: replace an output tree in one swap, or compare
// it with what would be written.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace kiln::gen {

using FileMap = std::map<std::string, std::string>;  // relative path -> content

struct WriteSummary {
  std::size_t files = 0;
  std::size_t changed = 0;  // new or different content
  std::size_t removed = 0;  // present before, not produced now
};

// Builds the tree in "<out>.kiln-tmp" (unchanged files keep their modification
// time), then swaps it into place. Throws std::filesystem::filesystem_error.
WriteSummary write_tree(const std::filesystem::path& out, const FileMap& files);

// "stale: <label><path>", "missing: ...", "extra: ..." with paths relative to out,
// sorted by path; empty when out matches.
std::vector<std::string> check_tree(const std::filesystem::path& out, const FileMap& files,
                                    const std::string& label = "");

// Every regular file under root, relative path -> content (empty when root is absent).
FileMap read_tree(const std::filesystem::path& root);

}  // namespace kiln::gen
