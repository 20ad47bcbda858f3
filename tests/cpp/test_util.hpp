// Helpers shared by the C++ tests: random blobs, a central-difference gradient checker, a
// GPU-versus-CPU comparison, and a skip macro for machines without a GPU.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "caffe/core/blob.hpp"
#include "caffe/core/common.hpp"
#include "caffe/core/layer.hpp"
#include "caffe/core/layer_registry.hpp"
#include "caffe/data/data_shard.hpp"
#include "caffe/solvers/solver.hpp"
#include "caffe/util/io.hpp"

namespace caffe {
namespace test {

// Fills values (or a blob's data) with N(mean, std) values from a fixed seed.
void fill_gaussian(float* values, int count, uint64_t seed, float mean = 0.0f, float std = 1.0f);
void fill_gaussian(Blob* blob, uint64_t seed, float mean = 0.0f, float std = 1.0f);
void fill_uniform(Blob* blob, uint64_t seed, float low, float high);
// Parses a LayerParameter (or any message) from prototxt text.
LayerParameter layer_param(const std::string& prototxt);
std::unique_ptr<Layer> make_layer(const std::string& prototxt, Phase phase = TRAIN);
// Restores the thread count (set_blas_threads) at end of scope, for tests that change it.
struct ThreadCountGuard {
  int saved = blas_threads();
  ~ThreadCountGuard() { set_blas_threads(saved); }
};

// Parses a NetParameter from prototxt text and sets its state's phase.
NetParameter net_param(const std::string& prototxt, Phase phase = TRAIN);
// The caffe::Error message `body` throws; fails the test (and returns "") when it throws none.
std::string error_of(const std::function<void()>& body);

// A path `name`_<test>_<pid> in gtest's temporary folder: unique to the running test and process,
// so suites that run at once on one machine (two worktrees, a normal and a sanitizer build) never
// share a file.
std::string temp_file_path(const std::string& name);

// A fresh directory under the system temp folder, removed with its contents at end of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> entries() const;  // file names, sorted

 private:
  std::string path_;
};

// Owns a set of blobs and hands out the raw-pointer vectors layers take.
struct BlobSet {
  std::vector<std::unique_ptr<Blob>> owned;
  BlobVec ptrs;
  Blob* add(const std::vector<int>& shape);
  Blob* add_existing(std::unique_ptr<Blob> blob);
};

struct GradientCheckOptions {
  float step = 1e-2f;       // central-difference step h
  float threshold = 1e-2f;  // relative error allowed: |a - n| <= threshold * max(1, |a|, |n|)
  bool check_params = true;
  std::vector<int> bottoms_to_check;  // empty: every bottom
  uint64_t seed = 1701;
};

// Checks every gradient a layer computes (chosen bottoms and, optionally, its parameters)
// against central differences of L = sum_t <r_t, top_t> with fixed random r_t (r_t = the
// loss weight for loss tops).  Runs in the current mode.  The layer must be set up.
void check_gradients(Layer& layer, const BlobVec& bottom, const BlobVec& top,
                     const GradientCheckOptions& options = {});

// Builds the layer twice from `prototxt`, runs forward + backward on identical inputs in CPU and
// then GPU mode, and expects equal tops, bottom gradients and parameter gradients.
void check_gpu_matches_cpu(const std::string& prototxt, const std::vector<std::vector<int>>& bottom_shapes,
                           const std::function<void(BlobVec&)>& fill_inputs, float tolerance = 1e-4f,
                           Phase phase = TRAIN);

// Switches to GPU mode for the scope (restores CPU mode after).
struct GpuModeScope {
  GpuModeScope() { set_mode(Mode::GPU); }
  ~GpuModeScope() { set_mode(Mode::CPU); }
};

// Makes training data layers set up in the scope read shard `rank` of `count` (data_shard.hpp).
struct TrainingShardScope {
  TrainingShardScope(uint64_t rank, uint64_t count) { set_training_shard({rank, count}); }
  ~TrainingShardScope() { set_training_shard({}); }
};

// Whether unit j of `width` is in class c of period dp, from the definition (the tests' oracle
// for kept_units): j ≡ c (mod dp), or with `blocks` the c-th of dp contiguous blocks,
// floor(c·width/dp) <= j < floor((c+1)·width/dp).
inline bool in_unit_class(int j, int width, int dp, int c, bool blocks) {
  if (!blocks) return j % dp == c;
  const long long units = width;
  return j >= c * units / dp && j < (c + 1) * units / dp;
}

// All weights, then all update history, of a solver: for bitwise comparison of runs.
inline std::vector<float> solver_state(const Solver& solver) {
  std::vector<float> state;
  for (const Blob* blob : solver.net().learnable_params()) {
    state.insert(state.end(), blob->cpu_data(), blob->cpu_data() + blob->count());
  }
  for (const auto& blob : solver.history()) {
    state.insert(state.end(), blob->cpu_data(), blob->cpu_data() + blob->count());
  }
  return state;
}

}  // namespace test
}  // namespace caffe

// Skips the current test, visibly, when no CUDA device is present.
#define SKIP_IF_NO_GPU()                                                                   \
  do {                                                                                     \
    if (::caffe::gpu_count() == 0) {                                                       \
      GTEST_SKIP() << (::caffe::cuda_compiled() ? "no CUDA device present: GPU test skipped" \
                                                : "CPU-only build: GPU test skipped");    \
    }                                                                                      \
  } while (0)
