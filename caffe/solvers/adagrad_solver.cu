#include "caffe/solvers/adagrad_solver.hpp"
#include "caffe/solvers/param_update.cuh"

namespace caffe {

template void launch_update_gpu<AdaGradUpdate>(long long, const AdaGradUpdate&);

}  // namespace caffe
