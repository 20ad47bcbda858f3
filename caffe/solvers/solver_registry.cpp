// Creating solvers: the registry of update rules by type name (REGISTER_SOLVER), and reading a
// solver prototxt, upgraded and with its paths resolved beside the file (load_solver_param).
#include <filesystem>
#include <map>

#include "caffe/solvers/solver.hpp"
#include "caffe/solvers/solver_text.hpp"
#include "caffe/solvers/solver_upgrade.hpp"
#include "caffe/util/io.hpp"

namespace caffe {
namespace fs = std::filesystem;
using solver_text::join;
using solver_text::lowercase;

// ------------------------------------------------------------------------------------------
// Registry

namespace {

std::map<std::string, SolverFactory>& solver_factories() {
  static std::map<std::string, SolverFactory> instance;
  return instance;
}

}  // namespace

void SolverRegistry::Add(const std::string& type, SolverFactory factory) {
  const bool inserted = solver_factories().emplace(type, std::move(factory)).second;
  if (!inserted) fail("solver type '", type, "' is registered twice");
}

std::vector<std::string> SolverRegistry::Types() {
  std::vector<std::string> types;
  for (const auto& entry : solver_factories()) types.push_back(entry.first);
  return types;
}

std::string SolverRegistry::CanonicalType(const std::string& type) {
  for (const auto& entry : solver_factories()) {
    if (lowercase(entry.first) == lowercase(type)) return entry.first;
  }
  fail("unknown solver type '", type, "'. Known types: ", join(Types()));
}

std::unique_ptr<Solver> SolverRegistry::Create(const SolverParameter& param) {
  if (solver_needs_upgrade(param)) {
    SolverParameter upgraded = param;
    upgrade_solver_logged(&upgraded, "the solver parameters");
    return Create(upgraded);
  }
  return solver_factories().at(CanonicalType(param.type()))(param);
}

std::unique_ptr<Solver> Solver::Create(const SolverParameter& param) {
  return SolverRegistry::Create(param);
}

std::unique_ptr<Solver> Solver::Create(const std::string& solver_path) {
  return Create(load_solver_param(solver_path));
}

// ------------------------------------------------------------------------------------------
// Solver files

namespace {

// `path` as it is when it exists (or is absolute), else beside the solver file.
std::string resolve_beside(const std::string& path, const fs::path& solver_dir,
                           const std::string& what, const std::string& solver_path) {
  if (path.empty() || fs::path(path).is_absolute() || fs::exists(path)) return path;
  const fs::path beside = solver_dir / path;
  if (!solver_dir.empty() && fs::exists(beside)) return beside.string();
  fail("solver '", solver_path, "': ", what, " '", path,
       "' not found (looked in the current directory",
       solver_dir.empty() ? "" : " and in '" + solver_dir.string() + "'", ")");
}

}  // namespace

SolverParameter load_solver_param(const std::string& solver_path) {
  SolverParameter param = read_solver_param(solver_path);
  upgrade_solver_logged(&param, solver_path);
  const fs::path solver_dir = fs::path(solver_path).parent_path();
  const auto resolve = [&](const std::string& path, const char* what) {
    return resolve_beside(path, solver_dir, what, solver_path);
  };
  if (param.has_net()) param.set_net(resolve(param.net(), "net"));
  if (param.has_train_net()) param.set_train_net(resolve(param.train_net(), "train_net"));
  for (int i = 0; i < param.test_net_size(); ++i) {
    param.set_test_net(i, resolve(param.test_net(i), "test_net"));
  }
  for (int i = 0; i < param.weights_size(); ++i) {
    param.set_weights(i, resolve(param.weights(i), "weights"));
  }
  if (!param.has_snapshot_prefix()) {
    // Caffe users expect snapshots beside the solver, named after it.
    param.set_snapshot_prefix((solver_dir / fs::path(solver_path).stem()).string());
  } else {
    const fs::path prefix_dir = fs::path(param.snapshot_prefix()).parent_path();
    if (!prefix_dir.empty() && prefix_dir.is_relative() && !fs::exists(prefix_dir) &&
        !solver_dir.empty() && fs::exists(solver_dir / prefix_dir)) {
      param.set_snapshot_prefix((solver_dir / param.snapshot_prefix()).string());
    }
  }
  return param;
}

}  // namespace caffe
