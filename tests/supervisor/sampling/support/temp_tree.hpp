// TempTree: a per-test temporary directory with a tiny builder for /proc- and cgroup-like
// fixture trees (hostile cases that are easier to write than to capture).
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace memvisor::testing {

class TempTree {
 public:
  TempTree() {
    std::string pattern = (std::filesystem::temp_directory_path() / "memvisor-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    root_ = pattern;
  }
  ~TempTree() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  // Writes <root>/<rel> with `content`, creating parent directories.
  std::string write(std::string_view rel, std::string_view content) const {
    std::filesystem::path path = root_ / std::filesystem::path(rel);
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }
  std::string mkdir(std::string_view rel) const {
    std::filesystem::path path = root_ / std::filesystem::path(rel);
    std::filesystem::create_directories(path);
    return path.string();
  }
  [[nodiscard]] std::string path(std::string_view rel = "") const {
    return rel.empty() ? root_.string() : (root_ / std::filesystem::path(rel)).string();
  }

 private:
  std::filesystem::path root_;
};

}  // namespace memvisor::testing
