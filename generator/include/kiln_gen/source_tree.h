// Load stage: read a config tree from disk into memory, with no judgement about
// what is in it. Everything after this works on the in-memory listing.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace kiln::gen {

struct SourceEntry {
  enum class Kind { file, folder, other };
  std::string path;  // relative to the configs root, '/'-separated: "rms_norm_fp8/sm90"
  Kind kind = Kind::file;
  std::string text;       // a file's bytes
  bool readable = true;   // false when a file could not be read
  std::string unread_why; // why not, when readable is false: "cannot be read", or its size
};

struct SourceTree {
  bool root_is_folder = false;
  std::vector<SourceEntry> entries;  // every entry below the root, sorted by path
  // Folders whose listing failed (relative paths; "" is the root), with why. The
  // listing is then incomplete, so the tree must not be used.
  std::vector<std::pair<std::string, std::string>> unlistable;
};

SourceTree load_tree(const std::filesystem::path& root);

}  // namespace kiln::gen
