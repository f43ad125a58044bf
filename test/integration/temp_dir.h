// One temporary directory per test process, removed at exit.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

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

}  // namespace svcbench::testing
