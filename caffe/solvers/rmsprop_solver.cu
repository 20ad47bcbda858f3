#include "caffe/solvers/param_update.cuh"
#include "caffe/solvers/rmsprop_solver.hpp"

namespace caffe {

template void launch_update_gpu<RMSPropUpdate>(long long, const RMSPropUpdate&);

}  // namespace caffe
