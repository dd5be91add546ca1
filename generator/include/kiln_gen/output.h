// The edge where files are written: replace an output tree in one atomic exchange,
// or compare it with what would be written.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::gen {

using FileMap = std::map<std::string, std::string>;  // relative path -> content

// The file kiln-gen keeps at the top of every folder it writes. A folder without it
// (and not empty, and not an earlier kiln-gen's output) is never replaced.
inline constexpr const char* kMarkerName = ".kiln-gen";
inline constexpr const char* kMarkerText =
    "This folder is written by kiln-gen, which replaces everything in it on each run.\n"
    "Do not edit or keep files here: change configs/ and regenerate.\n";

struct WriteSummary {
  std::size_t files = 0;
  std::size_t changed = 0;  // new or different content
  std::size_t removed = 0;  // present before, not produced now
};

// The output folder may not be replaced (a folder kiln-gen did not write, a file, ...).
struct WriteRefused : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Another kiln-gen held "<out>.kiln-lock" for longer than the wait allows.
struct LockBusy : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct WriteOptions {
  double lock_wait_seconds = 120;  // how long to wait for another run on the same folder
};

// Takes "<out>.kiln-lock", removes temporaries left by killed runs, builds the tree in
// "<out>.kiln-tmp.<pid>" (unchanged files keep their modification time) with the marker,
// then exchanges it with the old tree in one renameat2(RENAME_EXCHANGE), so a kill at
// any instant leaves the old or the new tree. Throws WriteRefused, LockBusy or
// std::filesystem::filesystem_error.
WriteSummary write_tree(const std::filesystem::path& out, const FileMap& files, const WriteOptions& options = {});

// Why kiln-gen may not replace `out`, or empty when it may (absent, an empty folder,
// a folder with the marker, or one whose every file carries kiln-gen's banner).
std::string replace_refusal(const std::filesystem::path& out);

// "stale: <label><path>", "missing: ...", "extra: ...", "unreadable: <label><path>: <why>"
// with paths relative to out, sorted by path; empty when out matches. The marker is
// not compared. Never throws on what it finds in out.
std::vector<std::string> check_tree(const std::filesystem::path& out, const FileMap& files,
                                    const std::string& label = "");

// Every regular file under root except the marker, relative path -> content (empty when
// root is absent); entries that cannot be read go to `problems` (path -> why) when given.
FileMap read_tree(const std::filesystem::path& root, std::map<std::string, std::string>* problems = nullptr);

}  // namespace kiln::gen
