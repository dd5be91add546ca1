#include "kiln_gen/source_tree.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

namespace kiln::gen {
namespace fs = std::filesystem;
namespace {

SourceEntry::Kind kind_of(const fs::path& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);  // follows symlinks
  if (ec) return SourceEntry::Kind::other;
  if (fs::is_directory(status)) return SourceEntry::Kind::folder;
  if (fs::is_regular_file(status)) return SourceEntry::Kind::file;
  return SourceEntry::Kind::other;
}

// A config is a few hundred bytes; a huge file is refused unread, so it cannot exhaust memory.
constexpr std::uintmax_t kMaxConfigBytes = 1 << 20;

bool read_file(const fs::path& path, std::string& text, std::string& why) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > kMaxConfigBytes) {
    why = "is " + std::to_string(size) + " bytes: a config file may hold at most " + std::to_string(kMaxConfigBytes);
    return false;
  }
  why = "cannot be read";
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  text = buffer.str();
  return !in.bad();
}

std::vector<std::string> child_names(const fs::path& folder, std::error_code& ec) {
  std::vector<std::string> names;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end());  // directory order is not portable
  return names;
}

// configs/<kernel>/<arch>/<hidden>/[tp<R>/]<file>: nothing deeper can be valid, and a
// bounded walk cannot loop through a symlink to a parent folder.
constexpr int kMaxDepth = 5;

void walk(const fs::path& folder, const std::string& prefix, int depth, SourceTree& tree) {
  std::error_code ec;
  const std::vector<std::string> names = child_names(folder, ec);
  if (ec) tree.unlistable.emplace_back(prefix, ec.message());
  std::vector<SourceEntry>& out = tree.entries;
  for (const std::string& name : names) {
    SourceEntry entry;
    entry.path = prefix.empty() ? name : prefix + "/" + name;
    const fs::path full = folder / name;
    entry.kind = kind_of(full);
    if (entry.kind == SourceEntry::Kind::file) entry.readable = read_file(full, entry.text, entry.unread_why);
    const bool descend = entry.kind == SourceEntry::Kind::folder && depth < kMaxDepth;
    std::string path = entry.path;
    out.push_back(std::move(entry));
    if (descend) walk(full, path, depth + 1, tree);
  }
}

}  // namespace

SourceTree load_tree(const fs::path& root) {
  SourceTree tree;
  tree.root_is_folder = kind_of(root) == SourceEntry::Kind::folder;
  if (tree.root_is_folder) walk(root, "", 1, tree);
  std::sort(tree.entries.begin(), tree.entries.end(),
            [](const SourceEntry& a, const SourceEntry& b) { return a.path < b.path; });
  return tree;
}

}  // namespace kiln::gen
