// Text helpers shared by the solver's source files: solver type names compared without case,
// file-name suffixes, and lists of names for error messages.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace caffe {
namespace solver_text {

inline std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

inline bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

inline std::string join(const std::vector<std::string>& parts) {
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : ", ") + part;
  return text;
}

}  // namespace solver_text
}  // namespace caffe
