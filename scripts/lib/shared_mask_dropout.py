"""A Python dropout layer whose mask is shared across the tokens of an iteration, for studying
why ROW approximate dropout trains PTB LSTMs worse than Bernoulli dropout
(scripts/study_ptb_masks.py).

Bottom x [T, N, H] (time steps, streams, units).  y = x ⊙ mask / (1 − p) in TRAIN (identity in
TEST), dx = dy ⊙ mask / (1 − p).  Which tokens share a mask (param_str "RATIO MODE SEED
[MIN_PERIOD MAX_PERIOD]"; the periods of the row modes come from Algorithm 1's search over
MIN_PERIOD..MAX_PERIOD, by default 1..⌈2/(1 − p)⌉):

* ``bernoulli_token``:  every token draws its own Bernoulli(1 − p) mask (Caffe's Dropout);
* ``bernoulli_shared``: one Bernoulli mask per iteration for all T·N tokens;
* ``row_shared``:       one ROW pattern (period dp from Algorithm 1's distribution, offset b) per
                        iteration for all tokens, unit j kept iff j mod dp = b (what
                        LSTMApproxDropout / InnerProductApproxDropout do, as a mask);
* ``row_step``:         dp per iteration, an offset per time step (shared by the N streams);
* ``row_stream``:       dp per iteration, an offset per stream (shared by the T steps);
* ``row_token``:        dp per iteration, an offset per token;
* ``row_rotate``:       dp and b per iteration; token r = t·N + n keeps the units
                        j mod dp = (b + r) mod dp (the C++ layers' rotate_offset with their
                        default row_layout STRIDED; reproduce_ptb.py --rotate-offset uses
                        BLOCKS, block (b + r) mod dp of dp contiguous blocks).

A research aid, not a fast layer: it masks with numpy and skips no work.
"""
from __future__ import annotations

import numpy as np

import caffe
from caffe import approx_dropout

MODES = ("bernoulli_token", "bernoulli_shared", "row_shared", "row_step", "row_stream",
         "row_token", "row_rotate")


class SharedMaskDropout(caffe.Layer):
    """Dropout with a configurable mask-sharing scope (see the module docstring)."""

    def setup(self, bottom: list, top: list) -> None:
        fields = self.param_str.split()
        if len(fields) not in (3, 5) or fields[1] not in MODES:
            raise ValueError(f"param_str '{self.param_str}': expected 'RATIO MODE SEED "
                             f"[MIN_PERIOD MAX_PERIOD]' with MODE one of {', '.join(MODES)}")
        self.ratio = float(fields[0])
        self.mode = fields[1]
        self.rng = np.random.default_rng(int(fields[2]))
        low, high = (int(fields[3]), int(fields[4])) if len(fields) == 5 else (1, None)
        self.periods = approx_dropout.search_distribution(self.ratio, max_period=high,
                                                          min_period=low)
        self.scaled_mask: np.ndarray | None = None

    def reshape(self, bottom: list, top: list) -> None:
        if len(bottom[0].shape) != 3:
            raise ValueError(f"bottom shape {tuple(bottom[0].shape)}: expected [T, N, H]")
        top[0].reshape(*bottom[0].shape)

    def _keep(self, steps: int, streams: int, units: int) -> np.ndarray:
        """Boolean [T, N, H] mask of the kept units."""
        if self.mode == "bernoulli_token":
            return self.rng.random((steps, streams, units)) >= self.ratio
        if self.mode == "bernoulli_shared":
            keep = self.rng.random(units) >= self.ratio
            return np.broadcast_to(keep, (steps, streams, units))
        period = int(self.rng.choice(self.periods.size, p=self.periods / self.periods.sum())) + 1
        if self.mode == "row_rotate":
            tokens = np.arange(steps * streams).reshape(steps, streams)
            offsets = (self.rng.integers(period) + tokens) % period
            return np.arange(units) % period == offsets[:, :, None]
        offset_shape = {"row_shared": (1, 1), "row_step": (steps, 1),
                        "row_stream": (1, streams), "row_token": (steps, streams)}[self.mode]
        offsets = self.rng.integers(period, size=offset_shape)
        return np.arange(units) % period == offsets[:, :, None]

    def forward(self, bottom: list, top: list) -> None:
        if self.phase == caffe.TEST:
            top[0].data[...] = bottom[0].data
            return
        keep = self._keep(*bottom[0].data.shape)
        self.scaled_mask = np.broadcast_to(keep, bottom[0].data.shape).astype(np.float32)
        self.scaled_mask /= 1.0 - self.ratio
        top[0].data[...] = bottom[0].data * self.scaled_mask

    def backward(self, top: list, propagate_down: list[bool], bottom: list) -> None:
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff * self.scaled_mask
