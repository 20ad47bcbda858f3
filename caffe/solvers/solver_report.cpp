// What a solver reports: the outputs a net produces (ReportedOutput, OutputAccumulator, the
// perplexities), the training display, and the test passes (Solver::Test, Solver::TestAll).
#include <glog/logging.h>

#include <cmath>
#include <optional>
#include <sstream>

#include "caffe/layers/loss_normalization.hpp"
#include "caffe/solvers/solver.hpp"

namespace caffe {

// ------------------------------------------------------------------------------------------
// Reported outputs

std::string ReportedOutput::key() const {
  return element < 0 ? name : name + "[" + std::to_string(element) + "]";
}

std::string ReportedOutput::describe() const {
  std::ostringstream line;
  line << name << " = " << value;
  if (loss_weight != 0.0f)
    line << " (* " << loss_weight << " = " << loss_weight * value << " loss)";
  return line.str();
}

std::vector<int> perplexity_layers(const Net& net) {
  std::vector<int> layers;
  for (size_t l = 0; l < net.layers().size(); ++l) {
    const LayerParameter& layer = net.layers()[l]->layer_param();
    if (!layer.loss_param().report_perplexity()) continue;
    if (std::string(net.layers()[l]->type()) != "SoftmaxWithLoss") {
      fail("layer '", layer.name(), "' (", net.layers()[l]->type(),
           "): loss_param.report_perplexity applies to SoftmaxWithLoss layers only");
    }
    const LossParameter& loss = layer.loss_param();
    const LossParameter::NormalizationMode mode = normalization_mode(loss, LossParameter::VALID);
    const bool per_position = mode == LossParameter::VALID || mode == LossParameter::FULL;
    if (!per_position) {
      fail("layer '", layer.name(),
           "' (SoftmaxWithLoss): loss_param.report_perplexity needs a "
           "loss that is the mean over positions (normalization VALID or FULL), so that its exp "
           "is a perplexity; remove `normalization`/`normalize` or set normalization: VALID");
    }
    layers.push_back(static_cast<int>(l));
  }
  return layers;
}

OutputAccumulator::OutputAccumulator(const Net& net)
    : net_(net), names_(net.output_blob_names()), loss_weights_(net.output_loss_weights()) {
  for (const Blob* output : net.output_blobs()) counts_.push_back(output->count());
  const std::vector<int> layers = perplexity_layers(net);
  for (int l : layers) {
    const std::string& top = net.layers()[l]->layer_param().top(0);
    perplexity_losses_.push_back(net.top_vecs()[l][0]);
    perplexity_names_.push_back(layers.size() == 1 ? "perplexity" : top + "_perplexity");
  }
}

void OutputAccumulator::Add() {
  latest_.clear();
  const std::vector<Blob*>& outputs = net_.output_blobs();
  for (size_t o = 0; o < outputs.size(); ++o) {
    if (outputs[o]->count() != counts_[o]) {
      fail("output '", names_[o], "' changed size between passes (", counts_[o], " -> ",
           outputs[o]->count(), " values); its mean is undefined");
    }
    const float* values = outputs[o]->cpu_data();
    latest_.insert(latest_.end(), values, values + counts_[o]);
  }
  for (const Blob* loss : perplexity_losses_) latest_.push_back(loss->cpu_data()[0]);
  if (sums_.empty()) sums_.assign(latest_.size(), 0.0);
  for (size_t i = 0; i < latest_.size(); ++i) sums_[i] += latest_[i];
  ++passes_;
}

std::vector<ReportedOutput> OutputAccumulator::Latest() const { return Report(latest_, 1); }

std::vector<ReportedOutput> OutputAccumulator::Means() const { return Report(sums_, passes_); }

std::vector<ReportedOutput> OutputAccumulator::Report(const std::vector<double>& totals,
                                                      int passes) const {
  std::vector<ReportedOutput> report;
  if (totals.empty()) return report;  // nothing added yet
  size_t index = 0;
  for (size_t o = 0; o < names_.size(); ++o) {
    for (int j = 0; j < counts_[o]; ++j, ++index) {
      const float mean = static_cast<float>(totals[index] / passes);
      report.push_back({names_[o], counts_[o] == 1 ? -1 : j, mean, loss_weights_[o], false});
    }
  }
  for (size_t p = 0; p < perplexity_names_.size(); ++p, ++index) {
    const float perplexity = static_cast<float>(std::exp(totals[index] / passes));
    report.push_back({perplexity_names_[p], -1, perplexity, 0.0f, true});
  }
  return report;
}

// ------------------------------------------------------------------------------------------
// Gradient densities

std::vector<LayerGradientDensity> gradient_densities(const Net& net) {
  std::vector<LayerGradientDensity> densities;
  for (size_t l = 0; l < net.layers().size(); ++l) {
    const std::optional<double> density = net.layers()[l]->GradientDensity();
    if (!density || net.bottom_vecs()[l].empty()) continue;
    densities.push_back({net.layer_names()[l], *density, net.bottom_vecs()[l][0]->count()});
  }
  return densities;
}

double weighted_mean_density(const std::vector<LayerGradientDensity>& densities) {
  double weighted = 0, elements = 0;
  for (const LayerGradientDensity& entry : densities) {
    weighted += entry.density * static_cast<double>(entry.elements);
    elements += static_cast<double>(entry.elements);
  }
  return elements > 0 ? weighted / elements : 0.0;
}

void log_gradient_densities(const std::vector<LayerGradientDensity>& densities) {
  if (densities.empty()) return;
  for (const LayerGradientDensity& entry : densities) {
    LOG(INFO) << "    Gradient density layer " << entry.layer << " = " << entry.density << " ("
              << entry.elements << " elements)";
  }
  LOG(INFO) << "    Gradient density mean = " << weighted_mean_density(densities)
            << " (element-weighted over " << densities.size() << " layers)";
}

// ------------------------------------------------------------------------------------------
// Training display

void Solver::DisplayTrainOutputs() const {
  LOG(INFO) << "Iteration " << iter_ << ", loss = " << smoothed_loss_;
  OutputAccumulator current(*net_);
  current.Add();
  const std::vector<ReportedOutput> outputs = current.Latest();
  for (size_t k = 0; k < outputs.size(); ++k) {
    LOG(INFO) << "    Train net output #" << k << ": " << outputs[k].describe();
  }
  log_gradient_densities(gradient_densities(*net_));
}

// ------------------------------------------------------------------------------------------
// Testing

std::vector<TestResult> Solver::TestAll() {
  std::vector<TestResult> results;
  for (size_t id = 0; id < test_nets_.size() && !stop_requested_; ++id) {
    LOG(INFO) << "Iteration " << iter_ << ", Testing net (#" << id << ")";
    results.push_back(Test(static_cast<int>(id)));
  }
  return results;
}

TestResult Solver::Test(int test_net_id) {
  if (test_net_id < 0 || test_net_id >= static_cast<int>(test_nets_.size())) {
    fail("Test(", test_net_id, "): the solver has ", test_nets_.size(), " test net(s)");
  }
  Net& test_net = *test_nets_[test_net_id];
  test_net.ShareTrainedLayersWith(*net_);
  const int batches = param_.test_iter(test_net_id);
  OutputAccumulator accumulator(test_net);
  double loss_sum = 0;
  for (int batch = 0; batch < batches; ++batch) {
    if (stop_requested_) {
      LOG(INFO) << "Test interrupted.";
      return {};
    }
    // Every test pass reads the same batches, so results do not depend on when tests ran.
    test_net.set_step(iter_, static_cast<uint64_t>(batch));
    float loss = 0;
    test_net.Forward(&loss);
    loss_sum += loss;
    accumulator.Add();
  }
  if (param_.test_compute_loss()) LOG(INFO) << "Test loss: " << loss_sum / batches;

  TestResult results;
  const std::vector<ReportedOutput> means = accumulator.Means();
  for (size_t k = 0; k < means.size(); ++k) {
    LOG(INFO) << "    Test net output #" << k << ": " << means[k].describe();
    // A perplexity may overflow where its (finite) loss is merely large: judge the loss.
    if (!means[k].derived && !std::isfinite(means[k].value)) {
      fail("test net #", test_net_id, " output '", means[k].key(), "' is ",
           std::isnan(means[k].value) ? "NaN" : "Inf", " at iteration ", iter_,
           "; try a lower base_lr or clip_gradients");
    }
    results.emplace_back(means[k].key(), means[k].value);
  }
  return results;
}

}  // namespace caffe
