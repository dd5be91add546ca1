#include "kiln_gen/diagnostic.h"

#include <algorithm>

namespace kiln::gen {

std::string escape_text(std::string_view text, std::size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 3);
  std::size_t i = 0;
  for (; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool control = c < 0x20 || c == 0x7f;
    const std::size_t need = control ? 4 : 1;
    if (out.size() + need > max_bytes) break;
    if (control) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (i < text.size()) {
    // Do not end inside a UTF-8 sequence: drop continuation bytes and their lead.
    std::size_t cut = out.size();
    while (cut > 0 && (static_cast<unsigned char>(out[cut - 1]) & 0xC0) == 0x80) --cut;
    if (cut > 0 && static_cast<unsigned char>(out[cut - 1]) >= 0xC0) --cut;
    else if (cut != out.size()) cut = out.size();  // stray continuation bytes: keep as they are
    out.resize(cut);
    out += "...";
  }
  return out;
}

std::vector<std::string> sorted_lines(const std::vector<Diagnostic>& diagnostics) {
  std::vector<std::string> lines;
  lines.reserve(diagnostics.size());
  for (const Diagnostic& d : diagnostics) lines.push_back(d.line());
  std::sort(lines.begin(), lines.end());
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  return lines;
}

}  // namespace kiln::gen
