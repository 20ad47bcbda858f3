// Replays the fuzz inputs in the normal build: every reproducer kept under
// fuzz/regressions/<target>/ (an input that once crashed, aborted, leaked or asked for gigabytes)
// and every seed under fuzz/corpus/<target>/ goes through the same target function its libFuzzer
// harness runs (fuzz/targets.hpp), which must accept it or reject it with caffe::Error.
//
// Each target's inputs run in a child process (a death test in the "threadsafe" style, which
// re-executes this binary) whose address space is capped 1 GiB above its size at the start: a
// crash, an abort, an escaping exception or an allocation of gigabytes fails the test and names
// the input, without taking the rest of the suite down.  Paths are relative to the repository
// root, where ctest runs the suite.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "caffe/util/io.hpp"
#include "fuzz/targets.hpp"

namespace caffe {
namespace fuzz {

// Test names and failure messages show the target's name.
void PrintTo(const Target& target, std::ostream* out) { *out << target.name; }

}  // namespace fuzz

namespace {

namespace fs = std::filesystem;

const fs::path kRegressions = "fuzz/regressions";
const fs::path kCorpus = "fuzz/corpus";
constexpr rlim_t kAddressSpaceHeadroom = rlim_t{1} << 30;

std::vector<fs::path> files_in(const fs::path& folder) {
  std::vector<fs::path> files;
  if (!fs::is_directory(folder)) return files;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// This process's virtual size (VmSize in /proc/self/status), in bytes.
rlim_t address_space_in_use() {
  std::ifstream status("/proc/self/status");
  std::string key;
  for (rlim_t kilobytes = 0; status >> key;) {
    if (key == "VmSize:" && status >> kilobytes) return kilobytes * 1024;
    status.ignore(1 << 16, '\n');
  }
  return 0;
}

// The child's work: caps its address space, runs every file through the target, exits 0 when
// each returned normally.  (Returning would not end the death test.)
[[noreturn]] void replay_and_exit(const fuzz::Target& target, const std::vector<fs::path>& files) {
  rlimit limit;
  getrlimit(RLIMIT_AS, &limit);
  limit.rlim_cur = address_space_in_use() + kAddressSpaceHeadroom;
  setrlimit(RLIMIT_AS, &limit);
  for (const fs::path& file : files) {
    std::cerr << "replaying " << file.string() << std::endl;
    const std::string bytes = read_file(file.string());
    try {
      target.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    } catch (const std::exception& error) {
      std::cerr << "escaped: " << error.what() << std::endl;
      std::exit(1);
    }
  }
  std::exit(0);
}

class FuzzInputsTest : public ::testing::TestWithParam<fuzz::Target> {};

TEST_P(FuzzInputsTest, RegressionsAndSeedsAreAcceptedOrRejected) {
  ASSERT_TRUE(fs::is_directory(kCorpus)) << "run from the repository root (" << kCorpus << ")";
  const fuzz::Target& target = GetParam();
  std::vector<fs::path> files = files_in(kRegressions / target.name);
  const std::vector<fs::path> seeds = files_in(kCorpus / target.name);
  ASSERT_FALSE(seeds.empty()) << "fuzz target '" << target.name << "' has no seed corpus";
  files.insert(files.end(), seeds.begin(), seeds.end());
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(replay_and_exit(target, files), ::testing::ExitedWithCode(0), "");
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzInputsTest, ::testing::ValuesIn(fuzz::targets()),
                         [](const ::testing::TestParamInfo<fuzz::Target>& info) {
                           return std::string(info.param.name);
                         });

// A reproducer in a folder that names no target would never be replayed.
TEST(FuzzRegressionsTest, EveryFolderNamesATarget) {
  for (const fs::path& root : {kRegressions, kCorpus}) {
    ASSERT_TRUE(fs::is_directory(root)) << "run from the repository root (" << root << ")";
    for (const fs::directory_entry& entry : fs::directory_iterator(root)) {
      if (!entry.is_directory()) continue;
      EXPECT_NO_THROW(fuzz::target_named(entry.path().filename().string())) << entry.path();
    }
  }
}

}  // namespace
}  // namespace caffe
