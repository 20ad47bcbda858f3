// Net: building the layer graph from a rewritten NetParameter (see net_rewrite.hpp), running
// it forward and backward, and copying, sharing and saving its weights.
#include "caffe/core/net.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <set>

#include "caffe/core/filler.hpp"
#include "caffe/core/layer_registry.hpp"
#include "caffe/core/net_rewrite.hpp"
#include "caffe/core/net_upgrade.hpp"
#include "caffe/util/io.hpp"
#include "caffe/util/math_functions.hpp"
#include "caffe/util/parallel.hpp"

namespace caffe {
namespace {

std::string describe_blobs(const std::vector<std::string>& names, const BlobVec& blobs) {
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    text += (i ? ", " : "") + names[i] + " [" + blobs[i]->shape_string() + "]";
  }
  return text;
}

uint64_t layer_stream_seed(uint64_t seed, int layer_id) {
  return hash_combine(seed, 0x1000u + static_cast<uint64_t>(layer_id));
}

// Adds the layer's bottoms (names and shapes) to its error: most layer errors are about them.
[[noreturn]] void rethrow_with_bottoms(const Error& error, const std::vector<std::string>& names,
                                       const BlobVec& bottoms) {
  if (bottoms.empty()) throw error;
  fail(error.what(), "\n  bottoms: ", describe_blobs(names, bottoms));
}

}  // namespace

Net::Net(const NetParameter& param) {
  if (!net_needs_upgrade(param)) {
    Init(param);
    return;
  }
  NetParameter upgraded = param;
  upgrade_net_logged(&upgraded, "net '" + param.name() + "'");
  Init(upgraded);
}

void Net::ReseedRandomStreams(uint64_t seed) {
  for (size_t l = 0; l < layers_.size(); ++l) {
    layers_[l]->set_stream_seed(layer_stream_seed(seed, static_cast<int>(l)));
  }
}

Net::Net(const std::string& prototxt_path, Phase phase, int level,
         const std::vector<std::string>& stages) {
  Init(with_state(read_net_param(prototxt_path), phase, level, stages));
}

void Net::Init(const NetParameter& raw_param) {
  name_ = raw_param.name();
  phase_ = raw_param.state().phase();
  source_param_ = filter_net(raw_param);
  std::set<std::string> user_layers;
  for (const LayerParameter& layer : source_param_.layer()) user_layers.insert(layer.name());
  const NetParameter param = insert_splits(source_param_);
  // The layers keep their own weights; the source only records the wiring as written.
  for (LayerParameter& layer : *source_param_.mutable_layer()) layer.clear_blobs();
  int next_source = 0;
  for (int layer_id = 0; layer_id < param.layer_size(); ++layer_id) {
    const LayerParameter& layer = param.layer(layer_id);
    const bool auto_split = layer.type() == "Split" && !user_layers.count(layer.name());
    source_layer_.push_back(auto_split ? -1 : next_source++);
    AppendLayer(layer, layer_id);
  }
  ComputeBackwardNeeds(param.force_backward());
  if (phase_ == TRAIN) WarnAboutLayersWithoutGradient();

  // Outputs: blobs no layer reads after their last production (an in-place layer re-produces
  // its blob), listed by name as Caffe lists them.
  std::map<std::string, int> available;
  for (size_t l = 0; l < layers_.size(); ++l) {
    for (int id : bottom_id_vecs_[l]) available.erase(blob_names_[id]);
    for (int id : top_id_vecs_[l]) available[blob_names_[id]] = id;
  }
  for (const auto& [blob_name, id] : available) {
    output_blob_ids_.push_back(id);
    output_blobs_.push_back(blobs_[id].get());
  }
}

void Net::AppendLayer(const LayerParameter& source_param, int layer_id) {
  LayerParameter layer_param = source_param;
  if (!layer_param.has_phase()) layer_param.set_phase(phase_);
  if (layer_param.name().empty()) layer_param.set_name("layer" + std::to_string(layer_id));
  if (layer_index_.count(layer_param.name())) {
    fail("two layers are named '", layer_param.name(), "'; layer names must be unique");
  }
  layers_.push_back(LayerRegistry::Create(layer_param));
  Layer& layer = *layers_.back();
  layer.set_stream_seed(layer_stream_seed(random_seed(), layer_id));
  layer_names_.push_back(layer_param.name());
  layer_index_[layer_param.name()] = layer_id;

  // Bottoms: must exist already.
  BlobVec bottoms;
  std::vector<int> bottom_ids;
  for (const std::string& bottom_name : layer_param.bottom()) {
    const auto found = blob_index_.find(bottom_name);
    if (found == blob_index_.end()) {
      fail("layer '", layer_param.name(), "' (", layer_param.type(), "): bottom blob '", bottom_name,
           "' is not produced by any earlier layer in phase ", Phase_Name(phase_));
    }
    if (blob_loss_weight_[found->second] != 0.0f) {
      // Its producer would overwrite the gradient this layer sends back (see insert_splits).
      fail("layer '", layer_param.name(), "' (", layer_param.type(), "): bottom blob '", bottom_name,
           "' is the loss output of an earlier layer; to read it, give that layer an explicit "
           "loss_weight for each of its tops");
    }
    bottoms.push_back(blobs_[found->second].get());
    bottom_ids.push_back(found->second);
  }

  // Tops: new blobs, or the bottom of the same name for an in-place layer.
  BlobVec tops;
  std::vector<int> top_ids;
  const auto add_top = [&](const std::string& top_name) {
    const bool in_place = std::find(layer_param.bottom().begin(), layer_param.bottom().end(),
                                    top_name) != layer_param.bottom().end();
    const auto existing = blob_index_.find(top_name);
    int id;
    if (in_place) {
      id = existing->second;
    } else {
      if (existing != blob_index_.end()) {
        const std::vector<std::string> written = bottom_names(layer_id);
        if (std::find(written.begin(), written.end(), top_name) != written.end()) {
          // Written in place, but a Split now feeds it (as in Caffe, this is not supported).
          fail("layer '", layer_param.name(), "': computes '", top_name, "' in place, but '",
               top_name, "' is also read by another layer; give this layer's top a new name");
        }
        fail("layer '", layer_param.name(), "': top blob '", top_name,
             "' is already produced by an earlier layer (only in-place layers may reuse a name)");
      }
      id = static_cast<int>(blobs_.size());
      blobs_.push_back(std::make_shared<Blob>());
      blob_names_.push_back(top_name);
      blob_loss_weight_.push_back(0.0f);
      blob_index_[top_name] = id;
    }
    tops.push_back(blobs_[id].get());
    top_ids.push_back(id);
  };
  for (const std::string& top_name : layer_param.top()) add_top(top_name);
  if (layer.AutoTopBlobs()) {
    const int needed = std::max(layer.MinTopBlobs(), layer.ExactNumTopBlobs());
    for (int t = static_cast<int>(tops.size()); t < needed; ++t) {
      add_top(layer_param.name() + "_auto_top_" + std::to_string(t));
    }
  }

  try {
    layer.SetUp(bottoms, tops);
  } catch (const Error& error) {
    rethrow_with_bottoms(error, bottom_names(layer_id), bottoms);
  }
  for (size_t t = 0; t < tops.size(); ++t) {
    if (layer.loss_weight(static_cast<int>(t)) != 0.0f) {
      blob_loss_weight_[top_ids[t]] = layer.loss_weight(static_cast<int>(t));
    }
    if (layer_param.type() == "Input") input_blobs_.push_back(tops[t]);
  }
  bottom_vecs_.push_back(bottoms);
  bottom_id_vecs_.push_back(bottom_ids);
  top_vecs_.push_back(tops);
  top_id_vecs_.push_back(top_ids);
  AppendParams(layer_id);
}

void Net::AppendParams(int layer_id) {
  Layer& layer = *layers_[layer_id];
  const LayerParameter& layer_param = layer.layer_param();
  const int num_params = static_cast<int>(layer.blobs().size());
  if (layer_param.param_size() > num_params) {
    fail("layer '", layer.name(), "' has ", layer_param.param_size(), " param specs but only ",
         num_params, " learnable blob(s)");
  }
  for (int j = 0; j < num_params; ++j) {
    const ParamSpec spec = j < layer_param.param_size() ? layer_param.param(j) : ParamSpec();
    Blob& blob = *layer.blobs()[j];
    layer.set_param_propagate_down(j, spec.lr_mult() != 0.0f);
    if (!spec.name().empty()) {
      const auto owner = shared_param_owner_.find(spec.name());
      if (owner != shared_param_owner_.end()) {
        const Blob& owner_blob = *owner->second.blob;
        const bool strict = spec.share_mode() != ParamSpec::PERMISSIVE;
        if (strict ? owner_blob.shape() != blob.shape() : owner_blob.count() != blob.count()) {
          fail("layer '", layer.name(), "': shared param '", spec.name(), "' has shape ",
               blob.shape_string(), " here but ", owner_blob.shape_string(), " in its owner",
               strict ? " (set share_mode: PERMISSIVE to share by count)" : "");
        }
        blob.ShareData(owner_blob);
        blob.ShareDiff(owner_blob);
        MergeSharedMults(layer.name(), spec, &owner->second);
        continue;
      }
      shared_param_owner_[spec.name()] = {&blob, static_cast<int>(learnable_params_.size()), spec};
    }
    learnable_params_.push_back(&blob);
    params_lr_.push_back(spec.lr_mult());
    params_weight_decay_.push_back(spec.decay_mult());
  }
}

void Net::MergeSharedMults(const std::string& layer_name, const ParamSpec& spec,
                           SharedParam* shared) {
  // As in Caffe, the first explicit lr_mult / decay_mult among the users of a shared parameter
  // sets it (the owner's default 1 does not count); a different explicit value is an error.
  const auto merge = [&](bool set_here, float here, bool set_before, float before,
                         const char* what) {
    if (set_here && set_before && here != before) {
      fail("layer '", layer_name, "': shared param '", spec.name(), "' has ", what, " ", here,
           " here but ", before, " in an earlier layer sharing it");
    }
    return set_here && !set_before;
  };
  ParamSpec& seen = shared->spec;
  if (merge(spec.has_lr_mult(), spec.lr_mult(), seen.has_lr_mult(), seen.lr_mult(), "lr_mult")) {
    seen.set_lr_mult(spec.lr_mult());
    params_lr_[shared->learnable_index] = spec.lr_mult();
  }
  if (merge(spec.has_decay_mult(), spec.decay_mult(), seen.has_decay_mult(), seen.decay_mult(),
            "decay_mult")) {
    seen.set_decay_mult(spec.decay_mult());
    params_weight_decay_[shared->learnable_index] = spec.decay_mult();
  }
}

void Net::ComputeBackwardNeeds(bool force_backward) {
  const int num_layers = static_cast<int>(layers_.size());
  std::vector<bool> blob_needs_grad(blobs_.size(), false);
  layer_need_backward_.assign(num_layers, false);
  bottom_need_backward_.resize(num_layers);

  // Forward sweep: a layer needs backward if it has trainable params or a bottom needs a grad.
  for (int l = 0; l < num_layers; ++l) {
    Layer& layer = *layers_[l];
    bool needs = false;
    for (size_t j = 0; j < layer.blobs().size(); ++j) {
      if (layer.param_propagate_down(static_cast<int>(j))) needs = true;
    }
    const LayerParameter& lp = layer.layer_param();
    bottom_need_backward_[l].assign(bottom_id_vecs_[l].size(), false);
    for (size_t b = 0; b < bottom_id_vecs_[l].size(); ++b) {
      bool wanted = blob_needs_grad[bottom_id_vecs_[l][b]] ||
                    (force_backward && layer.AllowForceBackward(static_cast<int>(b)));
      if (static_cast<int>(b) < lp.propagate_down_size() && !lp.propagate_down(b)) wanted = false;
      bottom_need_backward_[l][b] = wanted;
      needs = needs || wanted;
    }
    layer_need_backward_[l] = needs;
    for (int top_id : top_id_vecs_[l]) {
      if (needs) blob_needs_grad[top_id] = true;
    }
  }

  // Backward sweep (unless forced): a layer runs backward only when a gradient arrives at one of
  // its tops, from its own loss weight or from a later layer that propagates down into it.  This
  // skips layers that reach no loss and layers cut off by propagate_down: false.
  if (force_backward) return;
  std::vector<bool> blob_gets_grad(blobs_.size(), false);
  for (int l = num_layers - 1; l >= 0; --l) {
    bool gets_grad = false;
    for (size_t t = 0; t < top_id_vecs_[l].size(); ++t) {
      const int top_id = top_id_vecs_[l][t];
      if (layers_[l]->loss_weight(static_cast<int>(t)) != 0.0f || blob_gets_grad[top_id]) {
        gets_grad = true;
      }
      // Earlier layers see the version before this production (matters for in-place layers).
      blob_gets_grad[top_id] = false;
    }
    if (!gets_grad) {
      layer_need_backward_[l] = false;
      std::fill(bottom_need_backward_[l].begin(), bottom_need_backward_[l].end(), false);
      continue;
    }
    for (size_t b = 0; b < bottom_id_vecs_[l].size(); ++b) {
      if (bottom_need_backward_[l][b]) blob_gets_grad[bottom_id_vecs_[l][b]] = true;
    }
  }
}

void Net::WarnAboutLayersWithoutGradient() const {
  for (size_t l = 0; l < layers_.size(); ++l) {
    if (!layers_[l]->ActsOnGradientOnly() || layer_need_backward_[l]) continue;
    const std::vector<std::string> bottoms = bottom_names(static_cast<int>(l));
    LOG(WARNING) << "layer '" << layer_names_[l] << "' (" << layers_[l]->type() << "): its bottom"
                 << (bottoms.empty() ? std::string() : " '" + bottoms[0] + "'")
                 << " gets no gradient (nothing before it learns, propagate_down is false, or "
                    "nothing after it reaches a loss), so the layer does nothing";
  }
}

float Net::ForwardFromTo(int start, int end) {
  if (start < 0 || end >= static_cast<int>(layers_.size()) || start > end + 1) {
    fail("ForwardFromTo(", start, ", ", end, ") is out of range for a net of ", layers_.size(),
         " layers");
  }
  // Blobs produced before `start` may have been written from outside (pycaffe) since their
  // producer ran: their zero-column structure is no longer known.
  for (int l = 0; l < start; ++l) {
    for (Blob* top : top_vecs_[l]) top->set_column_pattern(ColumnPattern{});
  }
  float loss = 0;
  for (int l = start; l <= end; ++l) {
    layers_[l]->set_step(iteration_, forward_count_);
    try {
      loss += layers_[l]->Forward(bottom_vecs_[l], top_vecs_[l]);
    } catch (const Error& error) {
      rethrow_with_bottoms(error, bottom_names(l), bottom_vecs_[l]);
    }
  }
  return loss;
}

const std::vector<Blob*>& Net::Forward(float* loss) {
  const float total = layers_.empty() ? 0.0f : ForwardFromTo(0, static_cast<int>(layers_.size()) - 1);
  ++forward_count_;
  if (loss) *loss = total;
  return output_blobs_;
}

void Net::BackwardFromTo(int start, int end) {
  if (end < 0 || start >= static_cast<int>(layers_.size()) || end > start + 1) {
    fail("BackwardFromTo(", start, ", ", end, ") is out of range for a net of ", layers_.size(),
         " layers");
  }
  for (int l = start; l >= end; --l) {
    if (layer_need_backward_[l]) {
      layers_[l]->Backward(top_vecs_[l], bottom_need_backward_[l], bottom_vecs_[l]);
    }
  }
}

void Net::Backward() {
  if (!layers_.empty()) BackwardFromTo(static_cast<int>(layers_.size()) - 1, 0);
}

void Net::ClearParamDiffs() {
  for (Blob* param : learnable_params_) {
    if (mode() == Mode::GPU) {
      blas(Mode::GPU).set(param->count(), 0.0f, param->mutable_gpu_diff());
    } else {
      float* diff = param->mutable_cpu_diff();
      parallel_for(param->count(), 1 << 16, [diff](long long begin, long long end) {
        cpu_set(static_cast<int>(end - begin), 0.0f, diff + begin);
      });
    }
  }
}

std::vector<std::string> Net::bottom_names(int layer_id) const {
  // As written by the user, rather than the auto Splits' output names.
  const LayerParameter& written = source_layer_[layer_id] < 0
                                      ? layers_[layer_id]->layer_param()
                                      : source_param_.layer(source_layer_[layer_id]);
  return {written.bottom().begin(), written.bottom().end()};
}

Blob* Net::blob_by_name(const std::string& name) const {
  const auto found = blob_index_.find(name);
  if (found == blob_index_.end()) {
    std::string known;
    for (const std::string& blob : blob_names_) known += (known.empty() ? "" : ", ") + blob;
    fail("net '", name_, "' has no blob named '", name, "'. Blobs: ", known);
  }
  return blobs_[found->second].get();
}

Layer* Net::layer_by_name(const std::string& name) const {
  const auto found = layer_index_.find(name);
  if (found == layer_index_.end()) {
    std::string known;
    for (const std::string& layer : layer_names_) known += (known.empty() ? "" : ", ") + layer;
    fail("net '", name_, "' has no layer named '", name, "'. Layers: ", known);
  }
  return layers_[found->second].get();
}

std::vector<std::string> Net::input_blob_names() const {
  std::vector<std::string> names;
  for (const Blob* blob : input_blobs_) {
    for (size_t i = 0; i < blobs_.size(); ++i) {
      if (blobs_[i].get() == blob) names.push_back(blob_names_[i]);
    }
  }
  return names;
}

std::vector<std::string> Net::output_blob_names() const {
  std::vector<std::string> names;
  for (int id : output_blob_ids_) names.push_back(blob_names_[id]);
  return names;
}

std::vector<float> Net::output_loss_weights() const {
  std::vector<float> weights;
  for (int id : output_blob_ids_) weights.push_back(blob_loss_weight_[id]);
  return weights;
}

void Net::CopyTrainedLayersFrom(const NetParameter& trained) {
  if (net_needs_upgrade(trained)) {
    NetParameter upgraded = trained;
    upgrade_net_logged(&upgraded, "weights of net '" + trained.name() + "'");
    CopyTrainedLayersFrom(upgraded);
    return;
  }
  for (const LayerParameter& source : trained.layer()) {
    const auto found = layer_index_.find(source.name());
    if (found == layer_index_.end() || source.blobs_size() == 0) continue;
    Layer& target = *layers_[found->second];
    if (static_cast<int>(target.blobs().size()) != source.blobs_size()) {
      fail("layer '", source.name(), "': the weights file has ", source.blobs_size(),
           " blob(s), the net expects ", target.blobs().size());
    }
    for (int j = 0; j < source.blobs_size(); ++j) {
      Blob& blob = *target.blobs()[j];
      if (!blob.ShapeEquals(source.blobs(j))) {
        fail("layer '", source.name(), "' blob ", j, ": the weights file has shape ",
             shape_string(proto_shape(source.blobs(j))), ", the net expects ", blob.shape_string());
      }
      blob.FromProto(source.blobs(j), /*reshape=*/false);
    }
  }
}

void Net::CopyTrainedLayersFrom(const std::string& caffemodel_path) {
  if (caffemodel_path.size() > 3 && caffemodel_path.compare(caffemodel_path.size() - 3, 3, ".h5") == 0) {
    fail("'", caffemodel_path, "': HDF5 weight files are not supported; use a binary .caffemodel");
  }
  NetParameter trained;
  read_proto_from_binary_file(caffemodel_path, &trained);
  upgrade_net_logged(&trained, caffemodel_path);  // model-zoo caffemodels are V1
  if (trained.layer_size() == 0) {
    fail("'", caffemodel_path, "' holds no layers (not a .caffemodel?)");
  }
  CopyTrainedLayersFrom(trained);
}

void Net::ShareTrainedLayersWith(const Net& other) {
  for (size_t i = 0; i < other.layers_.size(); ++i) {
    const Layer& source = *other.layers_[i];
    const auto found = layer_index_.find(other.layer_names_[i]);
    if (found == layer_index_.end() || source.blobs().empty()) continue;
    Layer& target = *layers_[found->second];
    if (target.blobs().size() != source.blobs().size()) {
      fail("layer '", target.name(), "': cannot share ", source.blobs().size(), " blob(s) with ",
           target.blobs().size());
    }
    for (size_t j = 0; j < source.blobs().size(); ++j) {
      if (target.blobs()[j]->shape() != source.blobs()[j]->shape()) {
        fail("layer '", target.name(), "' blob ", j, ": cannot share shape ",
             source.blobs()[j]->shape_string(), " with ", target.blobs()[j]->shape_string());
      }
      target.blobs()[j]->ShareData(*source.blobs()[j]);
    }
  }
}

void Net::ToProto(NetParameter* param, bool write_diff) const {
  param->Clear();
  param->set_name(name_);
  for (size_t l = 0; l < layers_.size(); ++l) {
    if (source_layer_[l] < 0) continue;  // an auto-inserted Split
    LayerParameter* layer_param = param->add_layer();
    *layer_param = layers_[l]->layer_param();
    // Undo the Split rewiring: bottoms and loss weights as the net was written.
    const LayerParameter& source = source_param_.layer(source_layer_[l]);
    *layer_param->mutable_bottom() = source.bottom();
    *layer_param->mutable_loss_weight() = source.loss_weight();
    layer_param->clear_blobs();
    for (const auto& blob : layers_[l]->blobs()) blob->ToProto(layer_param->add_blobs(), write_diff);
  }
}

void Net::Save(const std::string& caffemodel_path, bool write_diff) const {
  NetParameter param;
  ToProto(&param, write_diff);
  write_proto_to_binary_file(param, caffemodel_path);
}

}  // namespace caffe
