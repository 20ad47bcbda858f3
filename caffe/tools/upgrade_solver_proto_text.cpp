// upgrade_solver_proto_text OLD_SOLVER_PROTOTXT OUT_PROTOTXT: rewrites a solver prototxt that
// names its update rule with the old solver_type enum so that it uses the `type` string.
#include "caffe/solvers/solver_upgrade.hpp"
#include "caffe/tools/upgrade_tool.hpp"
#include "caffe/util/io.hpp"

int main(int argc, char** argv) {
  return caffe::tools::upgrade_tool_main(
      argc, argv, "upgrade_solver_proto_text",
      "rewrites a solver prototxt that uses solver_type in the current format",
      "OLD_SOLVER_PROTOTXT OUT_PROTOTXT", [](const std::string& in, const std::string& out) {
        caffe::SolverParameter solver = caffe::read_solver_param(in);
        const std::string done = caffe::upgrade_solver(&solver);
        caffe::write_proto_to_text_file(solver, out);
        return done.empty() ? std::vector<std::string>{} : std::vector<std::string>{done};
      });
}
