// Tests of the old-format upgrades (caffe/core/net_upgrade, caffe/solvers/solver_upgrade): V1 and
// V0 nets on the NetParameter level, V1 caffemodel weights copied by name, deploy headers, legacy
// data-layer fields, solver_type, the load-time warning, and the registry's message for a BVLC
// type that is not implemented.  Nets that are built use only InnerProduct, ReLU, Dropout,
// SoftmaxWithLoss, EuclideanLoss and Input.

#include <glog/logging.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>
#include <vector>

#include "caffe/core/layer_registry.hpp"
#include "caffe/core/net.hpp"
#include "caffe/core/net_upgrade.hpp"
#include "caffe/solvers/solver.hpp"
#include "caffe/solvers/solver_upgrade.hpp"
#include "caffe/util/io.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::error_of;
using test::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

template <class Message>
Message parse(const std::string& text) {
  Message message;
  read_proto_from_text(text, "<test>", &message);
  return message;
}

NetParameter upgraded(const std::string& text) {
  NetParameter param = parse<NetParameter>(text);
  upgrade_net(&param);
  return param;
}

// Collects the text of glog warnings while it lives.
class WarningCapture : public google::LogSink {
 public:
  WarningCapture() { google::AddLogSink(this); }
  ~WarningCapture() override { google::RemoveLogSink(this); }
  void send(google::LogSeverity severity, const char*, const char*, int, const struct ::tm*,
            const char* message, size_t length) override {
    if (severity != google::GLOG_WARNING) return;
    std::lock_guard<std::mutex> lock(mutex_);
    warnings_.emplace_back(message, length);
  }
  std::vector<std::string> warnings() {
    std::lock_guard<std::mutex> lock(mutex_);
    return warnings_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> warnings_;
};

// ------------------------------------------------------------------------------------------
// V1

// LeNet as BVLC's examples wrote it before `layer` existed.
const char kV1LeNet[] = R"(
name: "LeNet"
layers {
  name: "mnist" type: DATA top: "data" top: "label"
  data_param { source: "mnist_train_lmdb" backend: LMDB batch_size: 64 scale: 0.00390625 }
  include { phase: TRAIN }
}
layers {
  name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1"
  blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
  convolution_param { num_output: 20 kernel_size: 5 stride: 1 weight_filler { type: "xavier" } }
}
layers {
  name: "pool1" type: POOLING bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 }
}
layers {
  name: "ip1" type: INNER_PRODUCT bottom: "pool1" top: "ip1"
  blobs_lr: 1 blobs_lr: 2
  inner_product_param { num_output: 500 }
}
layers { name: "relu1" type: RELU bottom: "ip1" top: "ip1" }
layers {
  name: "accuracy" type: ACCURACY bottom: "ip1" bottom: "label" top: "accuracy"
  include { phase: TEST }
}
layers {
  name: "loss" type: SOFTMAX_LOSS bottom: "ip1" bottom: "label" top: "loss" loss_weight: 1
}
)";

TEST(NetUpgradeTest, V1LeNetBecomesCurrentLayers) {
  const NetParameter net = upgraded(kV1LeNet);
  EXPECT_EQ(net.layers_size(), 0);
  ASSERT_EQ(net.layer_size(), 7);
  const std::vector<std::string> types = {"Data", "Convolution", "Pooling",        "InnerProduct",
                                          "ReLU", "Accuracy",    "SoftmaxWithLoss"};
  for (int i = 0; i < net.layer_size(); ++i) EXPECT_EQ(net.layer(i).type(), types[i]) << i;

  const LayerParameter& data = net.layer(0);
  EXPECT_EQ(data.name(), "mnist");
  EXPECT_EQ(std::vector<std::string>(data.top().begin(), data.top().end()),
            (std::vector<std::string>{"data", "label"}));
  ASSERT_EQ(data.include_size(), 1);
  EXPECT_EQ(data.include(0).phase(), TRAIN);
  EXPECT_EQ(data.data_param().batch_size(), 64u);
  EXPECT_EQ(data.data_param().backend(), DataParameter::LMDB);
  // The legacy transform field moved to transform_param.
  EXPECT_FALSE(data.data_param().has_scale());
  EXPECT_FLOAT_EQ(data.transform_param().scale(), 0.00390625f);

  const LayerParameter& conv = net.layer(1);
  EXPECT_EQ(conv.bottom(0), "data");
  EXPECT_EQ(conv.convolution_param().num_output(), 20u);
  ASSERT_EQ(conv.convolution_param().kernel_size_size(), 1);
  EXPECT_EQ(conv.convolution_param().kernel_size(0), 5u);
  EXPECT_EQ(conv.convolution_param().weight_filler().type(), "xavier");
  ASSERT_EQ(conv.param_size(), 2);
  EXPECT_FLOAT_EQ(conv.param(0).lr_mult(), 1);
  EXPECT_FLOAT_EQ(conv.param(0).decay_mult(), 1);
  EXPECT_FLOAT_EQ(conv.param(1).lr_mult(), 2);
  EXPECT_FLOAT_EQ(conv.param(1).decay_mult(), 0);
  EXPECT_FALSE(conv.param(0).has_name());

  EXPECT_EQ(net.layer(2).pooling_param().kernel_size(), 2u);
  EXPECT_EQ(net.layer(3).inner_product_param().num_output(), 500u);
  ASSERT_EQ(net.layer(3).param_size(), 2);
  EXPECT_FALSE(net.layer(3).param(1).has_decay_mult()) << "no weight_decay given: the default";
  EXPECT_EQ(net.layer(5).include(0).phase(), TEST);
  ASSERT_EQ(net.layer(6).loss_weight_size(), 1);
  EXPECT_FLOAT_EQ(net.layer(6).loss_weight(0), 1);
}

TEST(NetUpgradeTest, V1NamedParamsBecomeParamSpecs) {
  const NetParameter net = upgraded(R"(
    layers { name: "a" type: INNER_PRODUCT bottom: "x" top: "a"
             param: "shared_w" param: "shared_b" blob_share_mode: PERMISSIVE blobs_lr: 3 }
    layers { name: "b" type: INNER_PRODUCT bottom: "x" top: "b" param: "shared_w" })");
  ASSERT_EQ(net.layer(0).param_size(), 2);
  EXPECT_EQ(net.layer(0).param(0).name(), "shared_w");
  EXPECT_EQ(net.layer(0).param(0).share_mode(), ParamSpec::PERMISSIVE);
  EXPECT_FLOAT_EQ(net.layer(0).param(0).lr_mult(), 3);
  EXPECT_EQ(net.layer(0).param(1).name(), "shared_b");
  EXPECT_FALSE(net.layer(0).param(1).has_share_mode());
  ASSERT_EQ(net.layer(1).param_size(), 1);
  EXPECT_EQ(net.layer(1).param(0).name(), "shared_w");
}

TEST(NetUpgradeTest, EveryV1TypeHasABvlcTypeName) {
  const auto* types = V1LayerParameter::LayerType_descriptor();
  const std::vector<std::string>& bvlc = LayerRegistry::BvlcTypes();
  for (int i = 0; i < types->value_count(); ++i) {
    const auto value = static_cast<V1LayerParameter::LayerType>(types->value(i)->number());
    if (value == V1LayerParameter::NONE) continue;
    const std::string name = v1_type_name(value);
    EXPECT_TRUE(std::binary_search(bvlc.begin(), bvlc.end(), name))
        << types->value(i)->name() << " -> " << name;
  }
  EXPECT_EQ(v1_type_name(V1LayerParameter::SOFTMAX_LOSS), "SoftmaxWithLoss");
  EXPECT_EQ(v1_type_name(V1LayerParameter::IM2COL), "Im2col");
  EXPECT_EQ(v1_type_name(V1LayerParameter::HDF5_OUTPUT), "HDF5Output");
}

TEST(NetUpgradeTest, V1ParameterMessagesAreCopied) {
  const NetParameter net = upgraded(R"(
    layers { name: "d" type: DROPOUT bottom: "x" top: "x" dropout_param { dropout_ratio: 0.3 } }
    layers { name: "e" type: ELTWISE bottom: "x" bottom: "y" top: "e"
             eltwise_param { operation: MAX } }
    layers { name: "w" type: WINDOW_DATA top: "w" window_data_param { fg_threshold: 0.7 }
             transform_param { mirror: true } }
    layers { name: "l" type: EUCLIDEAN_LOSS bottom: "x" bottom: "y" top: "l"
             loss_param { ignore_label: 3 } exclude { stage: "deploy" } })");
  EXPECT_FLOAT_EQ(net.layer(0).dropout_param().dropout_ratio(), 0.3f);
  EXPECT_EQ(net.layer(1).eltwise_param().operation(), EltwiseParameter::MAX);
  EXPECT_FLOAT_EQ(net.layer(2).window_data_param().fg_threshold(), 0.7f);
  EXPECT_TRUE(net.layer(2).transform_param().mirror());
  EXPECT_EQ(net.layer(3).loss_param().ignore_label(), 3);
  ASSERT_EQ(net.layer(3).exclude_size(), 1);
  EXPECT_EQ(net.layer(3).exclude(0).stage(0), "deploy");
}

TEST(NetUpgradeTest, BadV1NetsAreErrorsNamingTheLayer) {
  const std::string untyped = error_of([] { upgraded("layers { name: 'mystery' top: 'x' }"); });
  EXPECT_TRUE(contains(untyped, "'mystery'")) << untyped;
  EXPECT_TRUE(contains(untyped, "no type")) << untyped;
  const std::string mixed = error_of([] {
    upgraded(
        "layer { name: 'new' type: 'Input' top: 'x' } "
        "layers { name: 'old' type: RELU bottom: 'x' top: 'x' }");
  });
  EXPECT_TRUE(contains(mixed, "`layer")) << mixed;
  EXPECT_TRUE(contains(mixed, "V1")) << mixed;
}

// A V1 deploy net of layers that exist, built and run from a file.
TEST(NetUpgradeTest, V1NetFileBuildsAndRuns) {
  TempDir dir;
  const std::string path = dir / "v1.prototxt";
  write_file_atomically(path, R"(
    name: "v1mlp"
    input: "data" input_dim: 2 input_dim: 3 input_dim: 1 input_dim: 1
    input: "label" input_dim: 2 input_dim: 1 input_dim: 1 input_dim: 1
    layers { name: "ip1" type: INNER_PRODUCT bottom: "data" top: "ip1" blobs_lr: 1 blobs_lr: 2
             weight_decay: 1 weight_decay: 0
             inner_product_param { num_output: 4 weight_filler { type: "gaussian" std: 0.5 } } }
    layers { name: "relu1" type: RELU bottom: "ip1" top: "ip1" }
    layers { name: "drop1" type: DROPOUT bottom: "ip1" top: "ip1" }
    layers { name: "ip2" type: INNER_PRODUCT bottom: "ip1" top: "ip2"
             inner_product_param { num_output: 3 } }
    layers { name: "loss" type: SOFTMAX_LOSS bottom: "ip2" bottom: "label" top: "loss" }
  )");
  WarningCapture capture;
  Net net(path, TRAIN);
  const std::vector<std::string> warnings = capture.warnings();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_TRUE(contains(warnings[0], path)) << warnings[0];
  EXPECT_TRUE(contains(warnings[0], "V1 layers")) << warnings[0];
  EXPECT_TRUE(contains(warnings[0], "input")) << warnings[0];

  EXPECT_EQ(net.layer_names(),
            (std::vector<std::string>{"input", "ip1", "relu1", "drop1", "ip2", "loss"}));
  EXPECT_EQ(net.params_lr(), (std::vector<float>{1, 2, 1, 1}));
  EXPECT_EQ(net.params_weight_decay(), (std::vector<float>{1, 0, 1, 1}));
  test::fill_gaussian(net.blob_by_name("data"), 3);
  float* labels = net.blob_by_name("label")->mutable_cpu_data();
  labels[0] = 2;
  labels[1] = 0;
  float loss = 0;
  net.Forward(&loss);
  EXPECT_TRUE(std::isfinite(loss) && loss > 0) << loss;
}

TEST(NetUpgradeTest, NetFromAV1ParameterIsUpgradedWithAWarning) {
  NetParameter param = parse<NetParameter>(R"(
    name: "inline"
    input: "x" input_shape { dim: 2 dim: 3 }
    layers { name: "relu" type: RELU bottom: "x" top: "y" })");
  WarningCapture capture;
  Net net(param);
  EXPECT_EQ(net.layer_names(), (std::vector<std::string>{"input", "relu"}));
  ASSERT_EQ(capture.warnings().size(), 1u);
  EXPECT_TRUE(contains(capture.warnings()[0], "net 'inline'")) << capture.warnings()[0];
}

TEST(NetUpgradeTest, CurrentNetsLoadWithoutAWarning) {
  TempDir dir;
  const std::string path = dir / "current.prototxt";
  write_file_atomically(path,
                        "layer { name: 'x' type: 'Input' top: 'x' "
                        "input_param { shape { dim: 1 } } }");
  WarningCapture capture;
  EXPECT_FALSE(net_needs_upgrade(read_net_param(path)));
  Net net(path, TEST);
  EXPECT_TRUE(capture.warnings().empty());
}

// ------------------------------------------------------------------------------------------
// Binary V1 caffemodels

TEST(NetUpgradeTest, V1CaffemodelWeightsAreCopiedByName) {
  // A V1 model as the model zoo ships it: `layers` with 4-d legacy blob dims, an extra layer the
  // target net does not have.
  NetParameter model;
  model.set_name("zoo");
  V1LayerParameter* data = model.add_layers();
  data->set_name("data");
  data->set_type(V1LayerParameter::DATA);
  V1LayerParameter* ip = model.add_layers();
  ip->set_name("fc");
  ip->set_type(V1LayerParameter::INNER_PRODUCT);
  ip->add_blobs_lr(1);
  ip->add_blobs_lr(2);
  ip->mutable_inner_product_param()->set_num_output(2);
  BlobProto* weights = ip->add_blobs();
  weights->set_num(1);
  weights->set_channels(1);
  weights->set_height(2);
  weights->set_width(3);
  for (int i = 0; i < 6; ++i) weights->add_data(0.5f * static_cast<float>(i) - 1);
  BlobProto* bias = ip->add_blobs();
  bias->set_num(1);
  bias->set_channels(1);
  bias->set_height(1);
  bias->set_width(2);
  bias->add_data(0.25f);
  bias->add_data(-0.75f);
  TempDir dir;
  const std::string path = dir / "zoo.caffemodel";
  write_proto_to_binary_file(model, path);

  Net net(parse<NetParameter>(R"(
    layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 3 } } }
    layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y"
            inner_product_param { num_output: 2 } })"));
  WarningCapture capture;
  net.CopyTrainedLayersFrom(path);
  ASSERT_EQ(capture.warnings().size(), 1u);
  EXPECT_TRUE(contains(capture.warnings()[0], path)) << capture.warnings()[0];
  const Layer& fc = *net.layer_by_name("fc");
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(fc.blobs()[0]->cpu_data()[i], weights->data(i));
  EXPECT_FLOAT_EQ(fc.blobs()[1]->cpu_data()[0], 0.25f);
  EXPECT_FLOAT_EQ(fc.blobs()[1]->cpu_data()[1], -0.75f);

  // The same model in memory, and the upgraded copy, carry the weights too.
  Net from_param(parse<NetParameter>(R"(
    layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 3 } } }
    layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y"
            inner_product_param { num_output: 2 } })"));
  from_param.CopyTrainedLayersFrom(model);
  EXPECT_FLOAT_EQ(from_param.layer_by_name("fc")->blobs()[1]->cpu_data()[1], -0.75f);
  NetParameter current = model;
  upgrade_net(&current);
  ASSERT_EQ(current.layer(1).blobs_size(), 2);
  EXPECT_EQ(current.layer(1).blobs(0).data_size(), 6);
  EXPECT_FLOAT_EQ(current.layer(1).param(1).lr_mult(), 2);
}

// ------------------------------------------------------------------------------------------
// V0

const char kV0Net[] = R"(
name: "v0"
input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8
layers { layer { name: "pad1" type: "padding" pad: 2 } bottom: "data" top: "pad1" }
layers {
  layer { name: "conv1" type: "conv" num_output: 4 kernelsize: 3 stride: 2 group: 1
          biasterm: false weight_filler { type: "gaussian" std: 0.01 } blobs_lr: 1 weight_decay: 1 }
  bottom: "pad1" top: "conv1"
}
layers { layer { name: "relu1" type: "relu" } bottom: "conv1" top: "conv1" }
layers {
  layer { name: "pool1" type: "pool" pool: AVE kernelsize: 2 stride: 2 } bottom: "conv1" top: "pool1"
}
layers {
  layer { name: "norm1" type: "lrn" local_size: 3 alpha: 0.0001 beta: 0.75 }
  bottom: "pool1" top: "norm1"
}
layers {
  layer { name: "fc" type: "innerproduct" num_output: 10 bias_filler { type: "constant" value: 1 } }
  bottom: "norm1" top: "fc"
}
layers { layer { name: "drop" type: "dropout" dropout_ratio: 0.4 } bottom: "fc" top: "fc" }
layers { layer { name: "prob" type: "softmax" } bottom: "fc" top: "prob" }
)";

TEST(NetUpgradeTest, V0NetWithPaddingBecomesCurrent) {
  NetParameter net = parse<NetParameter>(kV0Net);
  const std::vector<std::string> done = upgrade_net(&net);
  ASSERT_EQ(done.size(), 3u);  // V0 -> V1, V1 -> current, inputs
  EXPECT_TRUE(contains(done[0], "V0")) << done[0];
  EXPECT_FALSE(net_needs_upgrade(net));

  std::vector<std::string> names;
  for (const LayerParameter& layer : net.layer())
    names.push_back(layer.name() + ":" + layer.type());
  EXPECT_EQ(names, (std::vector<std::string>{"input:Input", "conv1:Convolution", "relu1:ReLU",
                                             "pool1:Pooling", "norm1:LRN", "fc:InnerProduct",
                                             "drop:Dropout", "prob:Softmax"}));
  const LayerParameter& input = net.layer(0);
  EXPECT_EQ(input.top(0), "data");
  ASSERT_EQ(input.input_param().shape(0).dim_size(), 4);
  EXPECT_EQ(input.input_param().shape(0).dim(2), 8);

  // The padding layer is folded into the conv that read it.
  const LayerParameter& conv = net.layer(1);
  EXPECT_EQ(conv.bottom(0), "data");
  const ConvolutionParameter& geometry = conv.convolution_param();
  ASSERT_EQ(geometry.pad_size(), 1);
  EXPECT_EQ(geometry.pad(0), 2u);
  EXPECT_EQ(geometry.kernel_size(0), 3u);
  EXPECT_EQ(geometry.stride(0), 2u);
  EXPECT_EQ(geometry.num_output(), 4u);
  EXPECT_FALSE(geometry.bias_term());
  EXPECT_FLOAT_EQ(geometry.weight_filler().std(), 0.01f);
  ASSERT_EQ(conv.param_size(), 1);
  EXPECT_FLOAT_EQ(conv.param(0).lr_mult(), 1);

  EXPECT_EQ(net.layer(3).pooling_param().pool(), PoolingParameter::AVE);
  EXPECT_EQ(net.layer(3).pooling_param().kernel_size(), 2u);
  EXPECT_EQ(net.layer(4).lrn_param().local_size(), 3u);
  EXPECT_FLOAT_EQ(net.layer(4).lrn_param().alpha(), 0.0001f);
  EXPECT_EQ(net.layer(5).inner_product_param().num_output(), 10u);
  EXPECT_FLOAT_EQ(net.layer(5).inner_product_param().bias_filler().value(), 1);
  EXPECT_FLOAT_EQ(net.layer(6).dropout_param().dropout_ratio(), 0.4f);
}

TEST(NetUpgradeTest, V0DataLayersGetTransformParam) {
  const NetParameter net = upgraded(R"(
    layers { layer { name: "mnist" type: "data" source: "db" batchsize: 64 rand_skip: 5
                     scale: 0.5 meanfile: "mean.binaryproto" cropsize: 24 mirror: true }
             top: "data" top: "label" }
    layers { layer { name: "imgs" type: "images" source: "list.txt" batchsize: 2
                     shuffle_images: true new_height: 32 new_width: 30 } top: "img" top: "l2" }
    layers { layer { name: "win" type: "window_data" source: "w.txt" det_fg_threshold: 0.6
                     det_crop_mode: "square" } top: "w" top: "l3" }
    layers { layer { name: "h5" type: "hdf5_data" source: "h5.txt" batchsize: 4 } top: "h" }
    layers { layer { name: "cat" type: "concat" concat_dim: 0 } bottom: "h" bottom: "h" top: "c" }
    layers { layer { name: "gain" type: "infogain_loss" source: "H.binaryproto" }
             bottom: "c" bottom: "label" })");
  const LayerParameter& data = net.layer(0);
  EXPECT_EQ(data.type(), "Data");
  EXPECT_EQ(data.data_param().source(), "db");
  EXPECT_EQ(data.data_param().batch_size(), 64u);
  EXPECT_EQ(data.data_param().rand_skip(), 5u);
  EXPECT_FLOAT_EQ(data.transform_param().scale(), 0.5f);
  EXPECT_EQ(data.transform_param().mean_file(), "mean.binaryproto");
  EXPECT_EQ(data.transform_param().crop_size(), 24u);
  EXPECT_TRUE(data.transform_param().mirror());
  EXPECT_FALSE(data.data_param().has_scale());

  const ImageDataParameter& images = net.layer(1).image_data_param();
  EXPECT_EQ(net.layer(1).type(), "ImageData");
  EXPECT_TRUE(images.shuffle());
  EXPECT_EQ(images.new_height(), 32u);
  EXPECT_EQ(images.new_width(), 30u);
  EXPECT_EQ(net.layer(2).type(), "WindowData");
  EXPECT_FLOAT_EQ(net.layer(2).window_data_param().fg_threshold(), 0.6f);
  EXPECT_EQ(net.layer(2).window_data_param().crop_mode(), "square");
  EXPECT_EQ(net.layer(3).hdf5_data_param().batch_size(), 4u);
  EXPECT_EQ(net.layer(4).concat_param().concat_dim(), 0u);
  EXPECT_EQ(net.layer(5).type(), "InfogainLoss");
  EXPECT_EQ(net.layer(5).infogain_loss_param().source(), "H.binaryproto");
}

TEST(NetUpgradeTest, BadV0LayersAreErrorsNamingTheLayer) {
  const std::string unknown =
      error_of([] { upgraded("layers { layer { name: 'odd' type: 'warp' } top: 'x' }"); });
  EXPECT_TRUE(contains(unknown, "'odd'")) << unknown;
  EXPECT_TRUE(contains(unknown, "unknown type 'warp'")) << unknown;
  EXPECT_TRUE(contains(unknown, "innerproduct")) << unknown;  // the V0 types are listed

  const std::string field = error_of([] {
    upgraded("layers { layer { name: 'r' type: 'relu' num_output: 3 } bottom: 'x' top: 'x' }");
  });
  EXPECT_TRUE(contains(field, "'r'")) << field;
  EXPECT_TRUE(contains(field, "num_output")) << field;

  const std::string no_target =
      error_of([] { upgraded("layers { layer { name: 'd' type: 'data' new_num: 3 } top: 'x' }"); });
  EXPECT_TRUE(contains(no_target, "new_num")) << no_target;

  const std::string padding_into_pool = error_of([] {
    upgraded(
        "layers { layer { name: 'p' type: 'padding' pad: 1 } bottom: 'x' top: 'px' } "
        "layers { layer { name: 'pool' type: 'pool' kernelsize: 2 } bottom: 'px' top: 'y' }");
  });
  EXPECT_TRUE(contains(padding_into_pool, "'p'")) << padding_into_pool;
  EXPECT_TRUE(contains(padding_into_pool, "'pool'")) << padding_into_pool;

  const std::string double_pad = error_of([] {
    upgraded(
        "layers { layer { name: 'p' type: 'padding' pad: 1 } bottom: 'x' top: 'px' } "
        "layers { layer { name: 'c' type: 'conv' pad: 1 kernelsize: 3 num_output: 1 } "
        "bottom: 'px' top: 'y' }");
  });
  EXPECT_TRUE(contains(double_pad, "own pad")) << double_pad;

  const std::string mixed = error_of([] {
    upgraded("layers { type: RELU layer { name: 'both' type: 'relu' } bottom: 'x' top: 'x' }");
  });
  EXPECT_TRUE(contains(mixed, "'both'")) << mixed;
}

TEST(NetUpgradeTest, UpgradeErrorsNameTheFile) {
  TempDir dir;
  const std::string path = dir / "v0.prototxt";
  write_file_atomically(path, "layers { layer { name: 'odd' type: 'warp' } top: 'x' }");
  const std::string message = error_of([&] { read_net_param(path); });
  EXPECT_TRUE(contains(message, path)) << message;
  EXPECT_TRUE(contains(message, "'odd'")) << message;
}

// ------------------------------------------------------------------------------------------
// Deploy headers and legacy fields in current layers

TEST(NetUpgradeTest, DeployHeadersBecomeAnInputLayer) {
  const NetParameter by_dims = upgraded(R"(
    input: "data" input_dim: 10 input_dim: 3 input_dim: 227 input_dim: 227
    layer { name: "relu" type: "ReLU" bottom: "data" top: "data" })");
  ASSERT_EQ(by_dims.layer_size(), 2);
  EXPECT_EQ(by_dims.input_size() + by_dims.input_dim_size(), 0);
  EXPECT_EQ(by_dims.layer(0).type(), "Input");
  const BlobShape& dims = by_dims.layer(0).input_param().shape(0);
  EXPECT_EQ(std::vector<int64_t>(dims.dim().begin(), dims.dim().end()),
            (std::vector<int64_t>{10, 3, 227, 227}));

  const NetParameter by_shape = upgraded(R"(
    input: "a" input_shape { dim: 2 dim: 5 }
    input: "b" input_shape { dim: 2 })");
  ASSERT_EQ(by_shape.layer_size(), 1);
  const LayerParameter& input = by_shape.layer(0);
  EXPECT_EQ(std::vector<std::string>(input.top().begin(), input.top().end()),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(input.input_param().shape(0).dim_size(), 2);
  EXPECT_EQ(input.input_param().shape(1).dim(0), 2);

  EXPECT_TRUE(contains(error_of([] { upgraded("input: 'x' input_dim: 1 input_dim: 2"); }),
                       "give 4 per input"));
  EXPECT_TRUE(contains(error_of([] {
                         upgraded(
                             "input_dim: 1 input_dim: 2 input_dim: 1 "
                             "input_dim: 1");
                       }),
                       "no `input` names"));
}

TEST(NetUpgradeTest, LegacyTransformFieldsMoveToTransformParam) {
  NetParameter net = parse<NetParameter>(R"(
    layer { name: "d" type: "Data" top: "x" data_param { source: "db" crop_size: 20 mirror: true }
            transform_param { scale: 0.5 } }
    layer { name: "i" type: "ImageData" top: "y" image_data_param { source: "l" mean_file: "m" } })");
  EXPECT_TRUE(net_needs_upgrade(net));
  const std::vector<std::string> done = upgrade_net(&net);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(contains(done[0], "'d', 'i'")) << done[0];
  EXPECT_EQ(net.layer(0).transform_param().crop_size(), 20u);
  EXPECT_TRUE(net.layer(0).transform_param().mirror());
  EXPECT_FLOAT_EQ(net.layer(0).transform_param().scale(), 0.5f);
  EXPECT_FALSE(net.layer(0).data_param().has_crop_size());
  EXPECT_EQ(net.layer(0).data_param().source(), "db");
  EXPECT_EQ(net.layer(1).transform_param().mean_file(), "m");

  const std::string conflict = error_of([] {
    upgraded(
        "layer { name: 'd' type: 'Data' data_param { scale: 2 } "
        "transform_param { scale: 0.5 } }");
  });
  EXPECT_TRUE(contains(conflict, "'d'")) << conflict;
  EXPECT_TRUE(contains(conflict, "scale")) << conflict;
}

// ------------------------------------------------------------------------------------------
// Solvers

TEST(SolverUpgradeTest, SolverTypeBecomesType) {
  const std::vector<std::pair<std::string, std::string>> names = {
      {"SGD", "SGD"},         {"NESTEROV", "Nesterov"}, {"ADAGRAD", "AdaGrad"},
      {"RMSPROP", "RMSProp"}, {"ADADELTA", "AdaDelta"}, {"ADAM", "Adam"}};
  for (const auto& [old_name, type] : names) {
    SolverParameter solver = parse<SolverParameter>("solver_type: " + old_name);
    EXPECT_TRUE(solver_needs_upgrade(solver));
    EXPECT_FALSE(upgrade_solver(&solver).empty());
    EXPECT_EQ(solver.type(), type) << old_name;
    EXPECT_FALSE(solver.has_solver_type());
  }
  SolverParameter both = parse<SolverParameter>("solver_type: ADAM type: 'Nesterov'");
  EXPECT_TRUE(contains(upgrade_solver(&both), "in favour of type"));
  EXPECT_EQ(both.type(), "Nesterov");
  SolverParameter current = parse<SolverParameter>("type: 'Adam'");
  EXPECT_EQ(upgrade_solver(&current), "");
  EXPECT_EQ(current.type(), "Adam");
}

TEST(SolverUpgradeTest, LoadersUpgradeSolverType) {
  TempDir dir;
  const std::string path = dir / "solver.prototxt";
  const std::string net =
      "net_param { name: 'fit' "
      "layer { name: 'x' type: 'Input' top: 'x' top: 'y' "
      "        input_param { shape { dim: 2 dim: 3 } shape { dim: 2 dim: 2 } } } "
      "layer { name: 'ip' type: 'InnerProduct' bottom: 'x' top: 'p' "
      "        inner_product_param { num_output: 2 } } "
      "layer { name: 'loss' type: 'EuclideanLoss' bottom: 'p' bottom: 'y' top: 'loss' } } "
      "base_lr: 0.1 lr_policy: 'fixed' max_iter: 1 ";
  write_file_atomically(path, net + "solver_type: NESTEROV");
  WarningCapture capture;
  const SolverParameter loaded = load_solver_param(path);
  EXPECT_EQ(loaded.type(), "Nesterov");
  EXPECT_FALSE(loaded.has_solver_type());
  ASSERT_EQ(capture.warnings().size(), 1u);
  EXPECT_TRUE(contains(capture.warnings()[0], path)) << capture.warnings()[0];
  EXPECT_TRUE(contains(capture.warnings()[0], "solver_type")) << capture.warnings()[0];

  EXPECT_STREQ(Solver::Create(parse<SolverParameter>(net + "solver_type: ADAGRAD"))->type(),
               "AdaGrad");
  EXPECT_STREQ(
      Solver::Create(parse<SolverParameter>(net + "solver_type: ADAGRAD type: 'Adam'"))->type(),
      "Adam");
}

// ------------------------------------------------------------------------------------------
// Types we do not implement

TEST(NotImplementedTest, BvlcTypeWeLackSaysNotImplemented) {
  const std::string message = error_of([] {
    Net net(
        parse<NetParameter>("layer { name: 'in' type: 'Input' top: 'x' "
                            "input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } } "
                            "layer { name: 'x' type: 'SPP' bottom: 'x' top: 'y' }"));
  });
  EXPECT_EQ(message.rfind("layer 'x': type 'SPP' is not implemented", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "Implemented types: ")) << message;
  for (const std::string& type : LayerRegistry::Types()) {
    EXPECT_TRUE(contains(message, type)) << type;
  }
}

TEST(NotImplementedTest, EveryUnregisteredBvlcTypeIsReportedSo) {
  for (const std::string& type : LayerRegistry::BvlcTypes()) {
    if (LayerRegistry::Has(type) || type == "Python") continue;
    LayerParameter param;
    param.set_name("l");
    param.set_type(type);
    const std::string message = error_of([&] { LayerRegistry::Create(param); });
    EXPECT_TRUE(contains(message, "type '" + type + "' is not implemented")) << message;
  }
}

TEST(NotImplementedTest, MisspeltTypeGetsTheClosestName) {
  LayerParameter param;
  param.set_name("fc");
  param.set_type("InnerProdcut");
  const std::string message = error_of([&] { LayerRegistry::Create(param); });
  EXPECT_TRUE(contains(message, "layer 'fc' has unknown type 'InnerProdcut'")) << message;
  EXPECT_TRUE(contains(message, "did you mean 'InnerProduct'?")) << message;
  EXPECT_FALSE(contains(message, "not implemented")) << message;
  param.set_type("relu");
  EXPECT_TRUE(contains(error_of([&] { LayerRegistry::Create(param); }), "did you mean 'ReLU'?"));
  param.set_type("Zzyzx");
  const std::string far = error_of([&] { LayerRegistry::Create(param); });
  EXPECT_FALSE(contains(far, "did you mean")) << far;
  EXPECT_TRUE(contains(far, "Known types: ")) << far;
}

}  // namespace
}  // namespace caffe
