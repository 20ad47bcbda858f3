// Net: a DAG of layers built from a NetParameter for one phase.  Construction filters layers by
// the NetState (include/exclude rules) and inserts Split layers where one blob feeds several
// layers (those rewrites are in net_rewrite.hpp), then wires blobs by name (in-place when
// top == bottom), shares parameters by name, and works out which layers need a backward pass.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "caffe/core/blob.hpp"
#include "caffe/core/layer.hpp"
#include "proto/caffe.pb.h"

namespace caffe {

class Net {
 public:
  // Builds the net for param.state() (phase defaults to TEST, as in Caffe).  Old formats are
  // upgraded first, with a warning (net_upgrade.hpp).
  explicit Net(const NetParameter& param);
  // Reads a prototxt and builds it for the given phase, level and stages (the stages are added
  // to those of the file's `state`, phase and level replace its own).
  Net(const std::string& prototxt_path, Phase phase, int level = 0,
      const std::vector<std::string>& stages = {});

  // Runs every layer; returns the output blobs.  `loss` (optional) receives the total loss.
  const std::vector<Blob*>& Forward(float* loss = nullptr);
  float ForwardFromTo(int start, int end);
  void Backward();
  void BackwardFromTo(int start, int end);
  float ForwardBackward() {
    float loss = 0;
    Forward(&loss);
    Backward();
    return loss;
  }
  // Zeroes the gradients of all learnable parameters (they accumulate across backward passes).
  void ClearParamDiffs();

  // Sets the solver iteration and the forward-pass counter seen by layers in the next Forward
  // (the counter then advances by one per Forward).  See Layer::set_step.
  void set_step(int iteration, uint64_t forward_count) {
    iteration_ = iteration;
    forward_count_ = forward_count;
  }
  int iteration() const { return iteration_; }
  // The counter the next Forward hands to the layers (the number of completed Forward passes
  // since the last set_step).  Callers that run a pass in pieces (ForwardFromTo) advance it
  // themselves with set_step(iteration(), forward_count() + 1).
  uint64_t forward_count() const { return forward_count_; }
  // Re-derives every layer's random stream from `seed` (done at construction with
  // caffe::random_seed(); a solver resuming a snapshot calls it with the snapshot's seed).
  void ReseedRandomStreams(uint64_t seed);

  // Copies weights from a trained net (layers matched by name).  Shape mismatches are errors
  // naming the layer and both shapes; layers absent from this net are ignored.  Old formats
  // (the V1 caffemodels of the model zoo) are upgraded first, with a warning.
  void CopyTrainedLayersFrom(const NetParameter& trained);
  // Reads a binary .caffemodel.
  void CopyTrainedLayersFrom(const std::string& caffemodel_path);
  // Shares (not copies) the weights of another net with the same layer names.
  void ShareTrainedLayersWith(const Net& other);
  // The net as written (auto-inserted Splits left out) with every layer's weights.
  void ToProto(NetParameter* param, bool write_diff = false) const;
  // Writes a binary .caffemodel atomically.
  void Save(const std::string& caffemodel_path, bool write_diff = false) const;

  const std::string& name() const { return name_; }
  Phase phase() const { return phase_; }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  const std::vector<std::string>& layer_names() const { return layer_names_; }
  const std::vector<std::string>& blob_names() const { return blob_names_; }
  const std::vector<std::shared_ptr<Blob>>& blobs() const { return blobs_; }
  const std::vector<BlobVec>& bottom_vecs() const { return bottom_vecs_; }
  const std::vector<BlobVec>& top_vecs() const { return top_vecs_; }
  const std::vector<std::vector<bool>>& bottom_need_backward() const { return bottom_need_backward_; }
  const std::vector<bool>& layer_need_backward() const { return layer_need_backward_; }
  bool has_blob(const std::string& name) const { return blob_index_.count(name) > 0; }
  bool has_layer(const std::string& name) const { return layer_index_.count(name) > 0; }
  // Errors (listing the known names) when absent.
  Blob* blob_by_name(const std::string& name) const;
  Layer* layer_by_name(const std::string& name) const;
  // Blobs fed by Input layers, and blobs no layer reads after their last production (sorted by
  // name, as Caffe orders its outputs).
  const std::vector<Blob*>& input_blobs() const { return input_blobs_; }
  const std::vector<Blob*>& output_blobs() const { return output_blobs_; }
  std::vector<std::string> input_blob_names() const;
  std::vector<std::string> output_blob_names() const;

  // Learnable parameters, each once (shared parameters appear under their owner).
  const std::vector<Blob*>& learnable_params() const { return learnable_params_; }
  const std::vector<float>& params_lr() const { return params_lr_; }
  const std::vector<float>& params_weight_decay() const { return params_weight_decay_; }
  // Loss weight of every output blob, in output order (0 for non-loss outputs).
  std::vector<float> output_loss_weights() const;

 private:
  // The first user of each named parameter: its blob, index in learnable_params_, and the
  // multipliers given so far.
  struct SharedParam {
    Blob* blob;
    int learnable_index;
    ParamSpec spec;
  };

  void Init(const NetParameter& param);
  void AppendLayer(const LayerParameter& layer_param, int layer_id);
  void AppendParams(int layer_id);
  void MergeSharedMults(const std::string& layer_name, const ParamSpec& spec, SharedParam* shared);
  void ComputeBackwardNeeds(bool force_backward);
  // Warns about each layer that ActsOnGradientOnly() but will run no backward.
  void WarnAboutLayersWithoutGradient() const;
  // Names of a layer's bottoms as the net was written (for error messages).
  std::vector<std::string> bottom_names(int layer_id) const;

  std::string name_;
  Phase phase_ = TEST;
  int iteration_ = 0;
  uint64_t forward_count_ = 0;

  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::string> layer_names_;
  std::map<std::string, int> layer_index_;
  // The filtered net as written (before Split insertion, without weights), and for each layer
  // its index there, or -1 for an auto-inserted Split.
  NetParameter source_param_;
  std::vector<int> source_layer_;

  std::vector<std::shared_ptr<Blob>> blobs_;
  std::vector<std::string> blob_names_;
  std::map<std::string, int> blob_index_;
  std::vector<float> blob_loss_weight_;

  std::vector<BlobVec> bottom_vecs_;
  std::vector<std::vector<int>> bottom_id_vecs_;
  std::vector<std::vector<bool>> bottom_need_backward_;
  std::vector<BlobVec> top_vecs_;
  std::vector<std::vector<int>> top_id_vecs_;
  std::vector<bool> layer_need_backward_;

  std::vector<Blob*> input_blobs_;
  std::vector<Blob*> output_blobs_;
  std::vector<int> output_blob_ids_;

  std::vector<Blob*> learnable_params_;
  std::vector<float> params_lr_;
  std::vector<float> params_weight_decay_;
  std::map<std::string, SharedParam> shared_param_owner_;
};

}  // namespace caffe
