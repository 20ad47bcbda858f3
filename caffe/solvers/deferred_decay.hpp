// Deferred zero-gradient SGD steps for the rows of a parameter that a layer gives no gradient
// (approximate dropout's dropped rows, Layer::ParamRowsWithGradient).  Such a row's step is pure
// momentum and L2 decay, linear in its state:
//   (v, w) ← A_s (v, w),   A_s = [[m, r_s·d], [−m, 1 − r_s·d]]   (r_s: rate at iteration s),
// so n skipped steps are one 2 × 2 product applied per element, once, when the row is next used
// or read.  Within one Solver::Step a row is brought up to date (CatchUp) before the forward that
// uses it and at every read point (Settle: test passes, snapshots, the end of Step, an error);
// outside Step every row is current, with the diff holding the last step taken, as the eager
// update leaves it.  The product equals the n eager steps to float rounding (it is not bit for bit
// the same arithmetic).
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "caffe/core/blob.hpp"
#include "caffe/core/layer.hpp"

namespace caffe {

class DeferredDecay {
 public:
  // One deferrable parameter: its blobs and its rule's constants.
  struct Param {
    Blob* blob;       // weights (data) and gradient (diff)
    Blob* history;    // V
    int rows;         // the blob viewed as rows (ParamRows::rows)
    float lr_mult;
    float decay;      // weight_decay × decay_mult (L2)
  };
  // rate(s): the solver's learning rate at iteration s (before lr_mult).
  DeferredDecay(float momentum, std::function<float(int)> rate);

  // Starts a Step at iteration `iter` with every row current; `params` lists each learnable
  // parameter's entry, or nullopt for one that is never deferred.
  void Begin(std::vector<std::optional<Param>> params, int iter);
  bool active() const { return !params_.empty(); }
  bool deferred(int param_id) const;

  // Brings the rows of parameter `param_id` in `rows` (all rows when null) to the state at the
  // start of iteration `iter` (their diff is left as it was: the caller clears it).
  void CatchUp(int param_id, const ParamRows* rows, int iter);
  // The rows in `rows` (all rows when null) took the eager step of iteration `iter`: current at
  // iter + 1.
  void MarkUpdated(int param_id, const ParamRows* rows, int iter);
  // Brings every row to the start of iteration `iter`, with diff = the last step (V), as the
  // eager update leaves it.
  void Settle(int iter);
  // Settles at `iter` and stops deferring (the end of a Step).
  void End(int iter);

 private:
  struct State {
    Param param;
    std::vector<int> current_at;  // per row: the iteration its state belongs to (start of)
  };
  // Applies the skipped steps to the selected rows; write_diff: also set diff = V.
  void Advance(State& state, const ParamRows* rows, int iter, bool write_diff) const;

  float momentum_;
  std::function<float(int)> rate_;
  std::vector<std::optional<State>> params_;
};

}  // namespace caffe
