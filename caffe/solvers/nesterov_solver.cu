#include "caffe/solvers/nesterov_solver.hpp"
#include "caffe/solvers/param_update.cuh"

namespace caffe {

template void launch_update_gpu<NesterovUpdate>(long long, const NesterovUpdate&);

}  // namespace caffe
