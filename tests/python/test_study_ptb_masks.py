"""scripts/study_ptb_masks.py and its Python layer (scripts/lib/shared_mask_dropout.py): which
tokens share a mask in each mode, the 1/(1 - p) scaling, identity in TEST, a backward that masks
like the forward, and the command line's checks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import caffe
import study_ptb_masks
from lib import shared_mask_dropout

T, N, H = 6, 4, 24  # time steps, streams, units


def masked_net(tmp_path: Path, mode: str, ratio: float, phase: int = caffe.TRAIN) -> caffe.Net:
    path = tmp_path / "net.prototxt"
    path.write_text(
        'force_backward: true\n'
        f'layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: {T} dim: {N} '
        f'dim: {H} }} }} }}\n'
        f'layer {{ name: "drop" type: "Python" bottom: "x" top: "y" python_param {{ '
        f'module: "lib.shared_mask_dropout" layer: "SharedMaskDropout" '
        f'param_str: "{ratio} {mode} 7" }} }}\n')
    return caffe.Net(str(path), phase)


def kept_after_forward(net: caffe.Net) -> np.ndarray:
    net.blobs["x"].data[...] = 1.0
    net.forward()
    return net.blobs["y"].data.copy()


@pytest.mark.parametrize("mode", shared_mask_dropout.MODES)
def test_kept_units_are_scaled_and_shared_as_the_mode_says(tmp_path: Path, mode: str) -> None:
    ratio = 0.7
    net = masked_net(tmp_path, mode, ratio)
    varied = False  # whether some iteration's tokens kept different units
    for _ in range(8):
        y = kept_after_forward(net)
        assert set(np.unique(y)) <= {0.0, np.float32(1 / (1 - ratio))}
        kept = y > 0
        varied |= not (kept == kept[:1, :1]).all()
        if mode in ("bernoulli_shared", "row_shared"):
            assert (kept == kept[:1, :1]).all()
        elif mode == "row_step":
            assert (kept == kept[:, :1]).all()  # the streams of a step agree
        elif mode == "row_stream":
            assert (kept == kept[:1]).all()     # the steps of a stream agree
        elif mode == "row_rotate":              # token r + 1 starts one unit after token r
            firsts = kept.reshape(-1, H).argmax(axis=1)
            period = int(np.diff(np.flatnonzero(kept.reshape(-1, H)[0])).max())
            np.testing.assert_array_equal(firsts[1:], (firsts[:-1] + 1) % period)
        if mode.startswith("row"):  # one period dp per iteration: kept units dp apart
            gaps = {int(np.diff(np.flatnonzero(row)).max()) for row in kept.reshape(-1, H)
                    if row.sum() > 1}
            assert len(gaps) <= 1
    assert varied == (mode not in ("bernoulli_shared", "row_shared"))


def test_backward_masks_like_the_forward_and_test_is_identity(tmp_path: Path) -> None:
    net = masked_net(tmp_path, "row_step", 0.7)
    y = kept_after_forward(net)
    net.blobs["y"].diff[...] = 2.0
    net.backward()
    np.testing.assert_allclose(net.blobs["x"].diff, 2.0 * y)
    test_net = masked_net(tmp_path, "row_step", 0.7, caffe.TEST)
    test_net.blobs["x"].data[...] = np.arange(T * N * H).reshape(T, N, H)
    test_net.forward()
    np.testing.assert_array_equal(test_net.blobs["y"].data, test_net.blobs["x"].data)


def test_a_period_band_limits_the_periods(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_text(
        f'layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: {T} dim: {N} '
        f'dim: {H} }} }} }}\n'
        'layer { name: "drop" type: "Python" bottom: "x" top: "y" python_param { '
        'module: "lib.shared_mask_dropout" layer: "SharedMaskDropout" '
        'param_str: "0.7 row_rotate 7 3 4" } }\n')
    net = caffe.Net(str(path), caffe.TRAIN)
    periods = set()
    for _ in range(20):
        kept = kept_after_forward(net).reshape(-1, H)[0] > 0
        periods.add(int(np.diff(np.flatnonzero(kept)).max()))
    assert periods == {3, 4}


def test_a_bad_mode_is_a_python_exception(tmp_path: Path) -> None:
    expected = "expected 'RATIO MODE SEED \\[MIN_PERIOD MAX_PERIOD\\]'"
    with pytest.raises(caffe.CaffeError, match=expected):
        masked_net(tmp_path, "per_word", 0.5)


def test_command_line_checks(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        study_ptb_masks.parse_args(["--iterations", "1000", "--interval", "300"])
    assert "must be positive and divide" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        study_ptb_masks.parse_args(["--ratios", "0.4"])
    assert "no p40 variants" in capsys.readouterr().err
    args = study_ptb_masks.parse_args(["--studies", "row", "row_step", "--ratios", "0.5"])
    assert args.studies == ["row", "row_step"] and args.json.name == "study.json"
