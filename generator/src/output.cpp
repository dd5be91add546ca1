#include "kiln_gen/output.h"

#include <fstream>
#include <sstream>
#include <system_error>

namespace kiln::gen {
namespace fs = std::filesystem;
namespace {

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw fs::filesystem_error("cannot read", path, std::make_error_code(std::errc::io_error));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_bytes(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) throw fs::filesystem_error("cannot write", path, std::make_error_code(std::errc::io_error));
}

// An absolute path without a trailing separator, through symlinks, so the swap
// renames the real folder and "<out>.kiln-tmp" is its sibling.
fs::path resolve(const fs::path& out) {
  fs::path p = fs::absolute(out).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return fs::exists(p) ? fs::canonical(p) : p;
}

fs::path sibling(const fs::path& folder, const char* suffix) {
  return folder.parent_path() / (folder.filename().string() + suffix);
}

// Renames `fresh` into `target`'s place; the old tree goes away only after.
void swap_in(const fs::path& fresh, const fs::path& target) {
  const fs::path old = sibling(target, ".kiln-old");
  const bool had_old = fs::exists(target);
  if (had_old) fs::rename(target, old);
  try {
    fs::rename(fresh, target);
  } catch (...) {
    if (had_old) fs::rename(old, target);
    throw;
  }
  if (had_old) fs::remove_all(old);
}

}  // namespace

FileMap read_tree(const fs::path& root) {
  FileMap files;
  if (!fs::is_directory(root)) return files;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file())
      files[entry.path().lexically_relative(root).generic_string()] = read_bytes(entry.path());
  return files;
}

WriteSummary write_tree(const fs::path& out, const FileMap& files) {
  const fs::path target = resolve(out);
  const fs::path fresh = sibling(target, ".kiln-tmp");
  fs::remove_all(fresh);                       // left over from an interrupted run
  fs::remove_all(sibling(target, ".kiln-old"));
  fs::create_directories(fresh);

  const FileMap before = read_tree(target);
  WriteSummary summary;
  for (const auto& [rel, content] : files) {
    const fs::path dest = fresh / rel;
    auto old = before.find(rel);
    if (old != before.end() && old->second == content) {
      // Same bytes: carry the old file over with its modification time, so Ninja
      // does not rebuild what did not change.
      fs::create_directories(dest.parent_path());
      fs::copy_file(target / rel, dest);
      fs::last_write_time(dest, fs::last_write_time(target / rel));
    } else {
      write_bytes(dest, content);
      ++summary.changed;
    }
    ++summary.files;
  }
  for (const auto& [rel, content] : before)
    if (!files.count(rel)) ++summary.removed;
  swap_in(fresh, target);
  return summary;
}

std::vector<std::string> check_tree(const fs::path& out, const FileMap& files, const std::string& label) {
  const FileMap present = read_tree(out);
  std::map<std::string, std::string> findings;  // path -> what is wrong, sorted by path
  for (const auto& [rel, content] : files) {
    auto it = present.find(rel);
    if (it == present.end()) findings[rel] = "missing";
    else if (it->second != content) findings[rel] = "stale";
  }
  for (const auto& [rel, content] : present)
    if (!files.count(rel)) findings[rel] = "extra";
  std::vector<std::string> lines;
  for (const auto& [rel, what] : findings) lines.push_back(what + ": " + label + rel);
  return lines;
}

}  // namespace kiln::gen
