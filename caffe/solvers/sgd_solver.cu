#include "caffe/solvers/param_update.cuh"
#include "caffe/solvers/sgd_solver.hpp"

namespace caffe {

template void launch_update_gpu<SgdUpdate>(long long, const SgdUpdate&);

}  // namespace caffe
