#include "caffe/solvers/adam_solver.hpp"
#include "caffe/solvers/param_update.cuh"

namespace caffe {

template void launch_update_gpu<AdamUpdate>(long long, const AdamUpdate&);

}  // namespace caffe
