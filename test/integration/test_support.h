// What the integration tests share: a per-process temp directory, throwaway namespaces, and
// splitting a tool's output into lines.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

#include "harness/lab/netns.h"
#include "harness/util/unique_fd.h"

namespace svcbench::testing {

// The string is leaked on purpose: the atexit handler is registered before a function-local
// static's destructor would be, so it runs after that destructor and must not read a destroyed
// string (ASan reported exactly that).
inline const std::string& ProcessTempDir() {
  static const std::string* const dir = [] {
    char tmpl[] = "/tmp/svcb-it-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    auto* d = new std::string(tmpl);
    std::atexit([] { std::filesystem::remove_all(ProcessTempDir()); });
    return d;
  }();
  return *dir;
}

// A subdirectory of ProcessTempDir(), so tests of different files do not share lock files.
inline std::string ProcessTempSubdir(const std::string& name) {
  const std::string d = ProcessTempDir() + "/" + name;
  std::filesystem::create_directories(d);
  return d;
}

// A named network namespace of the test's own (`<prefix>-<pid>-<n>`), removed on every path out.
class TestNetns {
 public:
  explicit TestNetns(const std::string& prefix = "svcb-it") {
    static int counter = 0;
    name_ = fmt::format("{}-{}-{}", prefix, ::getpid(), counter++);
    netns::Create(name_);
    try {
      fd_ = netns::Open(name_);
    } catch (...) {
      netns::Remove(name_);
      throw;
    }
  }
  ~TestNetns() {
    fd_.Reset();
    netns::Remove(name_);
  }
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  int Fd() const { return fd_.Get(); }
  const std::string& Name() const { return name_; }

 private:
  std::string name_;
  UniqueFd fd_;
};

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

}  // namespace svcbench::testing
