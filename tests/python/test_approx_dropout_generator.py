"""Tests of the Approximate Random Dropout schedule generator (caffe.approx_dropout)."""
from __future__ import annotations

import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from caffe import approx_dropout
from caffe.proto import caffe_pb2


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative schedule_file paths resolve against the working directory, as in the layers."""
    monkeypatch.chdir(tmp_path)

ScheduleError = approx_dropout.ScheduleError
FEASIBLE = [(p, n) for p in (0.3, 0.5, 0.7) for n in (2, 3, 4, 8, 16, 32, 64)
            if p <= (n - 1) / n]


@pytest.mark.parametrize("ratio,max_period", FEASIBLE)
def test_achieved_rate_is_within_one_percent(ratio: float, max_period: int) -> None:
    d = approx_dropout.search_distribution(ratio, max_period)
    assert d.shape == (max_period,)
    assert abs(approx_dropout.achieved_rate(d) - ratio) < 0.01


@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5, 0.75, 0.9])
def test_distribution_is_a_probability_vector(ratio: float) -> None:
    d = approx_dropout.search_distribution(ratio, 16)
    assert np.all(d >= 0)
    assert d.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("ratio,max_period", [(0.3, 8), (0.5, 16), (0.7, 4)])
def test_search_lands_near_the_maximum_entropy_distribution(ratio: float,
                                                            max_period: int) -> None:
    """The entropy term pulls d to the maximum-entropy distribution for the target rate.

    Reference: that distribution is the Gibbs family d_i ~ exp(-beta (i-1)/i) whose rate is p
    (beta found by bisection).  Tolerance 0.03 nats; without the entropy term the search stops
    0.08 nats short at p = 0.7, N = 4.
    """
    p_u = approx_dropout.drop_rates(max_period)
    low, high = -200.0, 200.0
    for _ in range(200):
        beta = (low + high) / 2
        gibbs = np.exp(-beta * p_u - np.max(-beta * p_u))
        gibbs /= gibbs.sum()
        low, high = (beta, high) if gibbs @ p_u > ratio else (low, beta)
    d = approx_dropout.search_distribution(ratio, max_period)
    assert approx_dropout.entropy(d) == pytest.approx(approx_dropout.entropy(gibbs), abs=0.03)


@pytest.mark.parametrize("iterations", [1, 7, 997, 2000])
def test_counts_sum_exactly_to_iterations(iterations: int) -> None:
    d = approx_dropout.search_distribution(0.5, 16)
    counts = approx_dropout.period_counts(d, iterations)
    assert counts.sum() == iterations
    assert np.all(np.abs(counts - d * iterations) < 1.0)
    periods, offsets = approx_dropout.unfold_schedule(d, iterations, seed=3)
    assert periods.size == offsets.size == iterations
    np.testing.assert_array_equal(np.bincount(periods, minlength=17)[1:], counts)


def test_offsets_lie_below_their_period() -> None:
    d = approx_dropout.search_distribution(0.6, 32)
    periods, offsets = approx_dropout.unfold_schedule(d, 5000, seed=11)
    assert periods.min() >= 1 and periods.max() <= 32
    assert np.all(offsets < periods)
    # Offsets cover their range (both offsets of period 2 occur).
    assert set(offsets[periods == 2].tolist()) == {0, 1}


def test_same_seed_gives_identical_bytes(tmp_path: pathlib.Path) -> None:
    paths = [tmp_path / "a.schedule", tmp_path / "b.schedule"]
    for path in paths:
        schedule = approx_dropout.make_schedule(0.5, 16, 3000, seed=42, width=100)
        approx_dropout.write_schedule(schedule, path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    other = approx_dropout.make_schedule(0.5, 16, 3000, seed=43, width=100)
    first = approx_dropout.read_schedule(paths[0])
    assert list(first.period) != list(other.period)
    assert list(first.distribution) == list(other.distribution)


def test_write_is_atomic_and_round_trips(tmp_path: pathlib.Path) -> None:
    schedule = approx_dropout.make_schedule(0.3, 8, 500, pattern="tile", seed=5, width=40,
                                            tile_size=32, layer_name="fc")
    path = tmp_path / "sub" / "fc.schedule"
    approx_dropout.write_schedule(schedule, path)
    approx_dropout.write_schedule(schedule, path)  # overwrite in place
    assert sorted(os.listdir(path.parent)) == ["fc.schedule"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    loaded = approx_dropout.read_schedule(path)
    assert loaded == schedule
    assert loaded.pattern == caffe_pb2.ApproxDropoutParameter.TILE
    assert (loaded.width, loaded.tile_size, loaded.layer_name) == (40, 32, "fc")
    assert loaded.lambda1 + loaded.lambda2 == pytest.approx(1.0)


@pytest.mark.parametrize("ratio,width", [(0.3, 64), (0.5, 100), (0.7, 37)])
def test_every_unit_is_dropped_at_the_target_rate(ratio: float, width: int) -> None:
    """Per-unit drop rate over a ROW schedule of T = 2000 iterations.

    Unit j is dropped in iteration t iff j mod period_t != offset_t.  Given the periods, the
    drops are independent Bernoulli(1 - 1/period_t) draws (offsets are uniform), so the
    rate's standard deviation is at most sigma = sqrt(p (1 - p) / T) (about 0.011 at p = 0.5).
    Tolerance: |rate_j - p| <= 4 sigma + 0.01 (the allowed search bias) + N / T (count
    rounding).  The mean over units must meet the same bound with sigma / sqrt(width).
    """
    iterations, n = 2000, 16
    schedule = approx_dropout.make_schedule(ratio, n, iterations, seed=2024, width=width)
    periods = np.asarray(schedule.period, dtype=np.int64)[:, None]
    offsets = np.asarray(schedule.offset, dtype=np.int64)[:, None]
    dropped = (np.arange(width)[None, :] % periods) != offsets
    rates = dropped.mean(axis=0)
    sigma = math.sqrt(ratio * (1 - ratio) / iterations)
    bias = 0.01 + n / iterations
    assert np.max(np.abs(rates - ratio)) <= 4 * sigma + bias
    assert abs(rates.mean() - ratio) <= 4 * sigma / math.sqrt(width) + bias
    # Not degenerate: different units see different drop sequences.
    assert np.any(dropped[:, 0] != dropped[:, 1])


NET = """
name: "generator_test"
layer { name: "data" type: "Input" top: "x" input_param { shape { dim: 4 dim: 20 } } }
layer { name: "fc1" type: "InnerProductApproxDropout" bottom: "x" top: "fc1"
  inner_product_param { num_output: 12 }
  approx_dropout_param { pattern: ROW drop_side: OUTPUT dropout_ratio: 0.5
                         schedule_file: "fc1.schedule" } }
layer { name: "relu1" type: "ReLU" bottom: "fc1" top: "fc1" }
layer { name: "fc2" type: "InnerProductApproxDropout" bottom: "fc1" top: "fc2"
  inner_product_param { num_output: 40 }
  approx_dropout_param { pattern: ROW drop_side: INPUT dropout_ratio: 0.3
                         schedule_file: "sched/fc2.schedule" } }
layer { name: "fc3" type: "InnerProductApproxDropout" bottom: "fc2" top: "fc3"
  inner_product_param { num_output: 20 }
  approx_dropout_param { pattern: TILE tile_size: 8 dropout_ratio: 0.7
                         schedule_file: "fc3.schedule" } }
layer { name: "fc_test" type: "InnerProductApproxDropout" bottom: "fc2" top: "fc_test"
  include { phase: TEST }
  inner_product_param { num_output: 5 }
  approx_dropout_param { schedule_file: "never.schedule" } }
"""


def _write_net(folder: pathlib.Path, text: str) -> pathlib.Path:
    path = folder / "train.prototxt"
    path.write_text(text)
    return path


def test_net_mode_writes_one_schedule_per_layer(tmp_path: pathlib.Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    net = _write_net(tmp_path, NET)
    # --max-period 16 exceeds every width here, so each layer's width must cap it.
    assert approx_dropout.main(["--net", str(net), "--iterations", "300",
                                "--max-period", "16"]) == 0
    expected = {  # file: (layer, ratio, width, max period)
        "fc1.schedule": ("fc1", 0.5, 12, 12),              # ROW OUTPUT: M = 12 caps N
        "sched/fc2.schedule": ("fc2", 0.3, 12, 12),        # ROW INPUT: K from fc1 via ReLU
        "fc3.schedule": ("fc3", 0.7, 15, 15),              # TILE: ceil(20/8) * ceil(40/8)
    }
    for name, (layer, ratio, width, max_period) in expected.items():
        schedule = approx_dropout.read_schedule(tmp_path / name)
        assert schedule.layer_name == layer
        assert schedule.target_ratio == pytest.approx(ratio)
        assert (schedule.width, schedule.max_period) == (width, max_period)
        assert len(schedule.period) == 300
    assert approx_dropout.read_schedule(tmp_path / "fc3.schedule").tile_size == 8
    assert not (tmp_path / "never.schedule").exists()
    out = capsys.readouterr().out
    for layer in ("fc1", "fc2", "fc3"):
        assert f"schedule '{layer}'" in out
    assert "achieved rate" in out and "entropy" in out and "sub-models" in out


def test_net_mode_layers_get_distinct_seeds(tmp_path: pathlib.Path) -> None:
    net = _write_net(tmp_path, NET)
    results = approx_dropout.schedules_for_net(str(net), 300, str(tmp_path / "out"), echo=None)
    assert len({schedule.seed for _, schedule in results}) == 3
    assert (tmp_path / "out" / "sched" / "fc2.schedule").exists()


# An LSTMApproxDropout over an Embed of width 24; the test appends its approx_dropout_param.
LSTM_OVER_EMBED = '''
layer { name: "in" type: "Input" top: "words" top: "cont"
  input_param { shape { dim: 5 dim: 3 } } }
layer { name: "embed" type: "Embed" bottom: "words" top: "emb"
  embed_param { num_output: 24 input_dim: 100 } }
layer { name: "lstm" type: "LSTMApproxDropout" bottom: "emb" bottom: "cont" top: "h"
  recurrent_param { num_output: 8 }'''


def test_net_mode_lstm_over_embed(tmp_path: pathlib.Path) -> None:
    net = _write_net(tmp_path, LSTM_OVER_EMBED + """
  approx_dropout_param { dropout_ratio: 0.5 schedule_file: "lstm.schedule" } }
layer { name: "lstm_tile" type: "LSTMApproxDropout" bottom: "h" bottom: "cont" top: "h2"
  recurrent_param { num_output: 8 }
  approx_dropout_param { pattern: TILE tile_size: 8 schedule_file: "tile.schedule" } }
""")
    # The paper's periods (1..4 at p = 0.5) on an LSTM: the generator advises the band 2..2.
    with pytest.warns(RuntimeWarning, match=r"LSTMApproxDropout.*p = 0.5: --min-period 2 "
                                            r"--max-period 2"):
        approx_dropout.schedules_for_net(str(net), 100, echo=None)
    row = approx_dropout.read_schedule(tmp_path / "lstm.schedule")
    assert (row.width, row.max_period) == (24, approx_dropout.default_max_period(row.target_ratio))
    tile = approx_dropout.read_schedule(tmp_path / "tile.schedule")
    assert (tile.width, tile.max_period) == (4, 4)           # W_xc 32 x 8: 4 x 1 tiles


def test_net_mode_unknown_width_uses_the_default_period(tmp_path: pathlib.Path) -> None:
    net = _write_net(tmp_path, """
layer { name: "data" type: "Data" top: "x" top: "label" data_param { source: "db" } }
layer { name: "fc" type: "InnerProductApproxDropout" bottom: "x" top: "fc"
  inner_product_param { num_output: 50 }
  approx_dropout_param { drop_side: INPUT schedule_file: "fc.schedule" } }
""")
    with pytest.warns(RuntimeWarning, match="unknown widths \\('fc'\\)"):
        approx_dropout.schedules_for_net(str(net), 100, echo=None)
    schedule = approx_dropout.read_schedule(tmp_path / "fc.schedule")
    assert schedule.max_period == approx_dropout.default_max_period(0.5) == 4
    assert not schedule.HasField("width")
    with pytest.warns(RuntimeWarning, match="unknown widths"):
        approx_dropout.schedules_for_net(str(net), 100, max_period=8, echo=None)
    schedule = approx_dropout.read_schedule(tmp_path / "fc.schedule")
    assert schedule.max_period == 8 and not schedule.HasField("width")


def test_core_plan_reads_widths_and_tile_grids_from_the_built_net(tmp_path: pathlib.Path) -> None:
    from caffe._caffe import plan_approx_layers
    layers = plan_approx_layers(str(_write_net(tmp_path, NET)))
    assert [(layer["name"], layer["width"], layer["tile_rows"], layer["tile_cols"])
            for layer in layers] == [("fc1", 12, None, None), ("fc2", 12, None, None),
                                     ("fc3", 15, 3, 5)]
    assert all(layer["unknown_width_reason"] is None for layer in layers)


def test_net_mode_uses_the_level_and_stages_of_the_net_state(tmp_path: pathlib.Path) -> None:
    net = _write_net(tmp_path, NET.replace('name: "generator_test"',
                                           'name: "staged" state { stage: "extra" }')
                     .replace("include { phase: TEST }", 'include { stage: "extra" }'))
    plans = approx_dropout.plan_net(str(net))
    assert [(plan.layer_name, plan.width) for plan in plans] == [
        ("fc1", 12), ("fc2", 12), ("fc3", 15), ("fc_test", 5)]


def test_net_that_cannot_be_built_warns_with_the_reason(tmp_path: pathlib.Path) -> None:
    net = _write_net(tmp_path, """
layer { name: "data" type: "Data" top: "x" data_param { source: "db" batch_size: 2 } }
layer { name: "fc" type: "InnerProductApproxDropout" bottom: "x" top: "fc"
  inner_product_param { num_output: 6 } approx_dropout_param { schedule_file: "fc.schedule" } }
layer { name: "fc_in" type: "InnerProductApproxDropout" bottom: "fc" top: "fc_in"
  inner_product_param { num_output: 6 }
  approx_dropout_param { drop_side: INPUT schedule_file: "fc_in.schedule" } }
""")
    with pytest.warns(RuntimeWarning, match=r"layer 'data' \(Data\).*unknown widths \('fc_in'\)"):
        plans = approx_dropout.plan_net(str(net))
    assert [plan.width for plan in plans] == [6, None]  # ROW OUTPUT needs no input shape


@pytest.mark.parametrize("layer, message", [
    ('type: "LSTMApproxDropout" recurrent_param { num_output: 4 } '
     'approx_dropout_param { drop_side: OUTPUT schedule_file: "s" }',
     "drops only its input connections"),
    ('type: "InnerProductApproxDropout" inner_product_param { num_output: 4 } '
     'approx_dropout_param { pattern: TILE tile_size: 0 schedule_file: "s" }', "has tile_size 0"),
    ('type: "InnerProductApproxDropout" approx_dropout_param { schedule_file: "s" }',
     r"has no inner_product_param\.num_output"),
])
def test_unusable_layer_is_an_error_naming_it(tmp_path: pathlib.Path, layer: str,
                                              message: str) -> None:
    net = _write_net(tmp_path, f'layer {{ name: "bad" bottom: "x" top: "y" {layer} }}')
    with pytest.raises(ScheduleError, match=rf"layer 'bad' \(\w+\) {message}"):
        approx_dropout.plan_net(str(net))


def test_unreadable_net_is_an_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ScheduleError, match="missing.prototxt"):
        approx_dropout.plan_net(str(tmp_path / "missing.prototxt"))


def test_net_without_approx_layers_is_an_error(tmp_path: pathlib.Path) -> None:
    net = _write_net(tmp_path, 'layer { name: "d" type: "Input" top: "x" '
                               'input_param { shape { dim: 1 } } }')
    with pytest.raises(ScheduleError, match="has no InnerProductApproxDropout"):
        approx_dropout.schedules_for_net(str(net), 10, echo=None)


def test_net_layer_without_schedule_file_is_an_error(tmp_path: pathlib.Path) -> None:
    net = _write_net(tmp_path, 'layer { name: "fc" type: "InnerProductApproxDropout" '
                               'bottom: "x" top: "y" inner_product_param { num_output: 4 } }')
    with pytest.raises(ScheduleError, match="'fc'.*schedule_file"):
        approx_dropout.schedules_for_net(str(net), 10, echo=None)


def test_unachievable_layer_ratio_names_the_layer(tmp_path: pathlib.Path) -> None:
    net = _write_net(tmp_path, NET.replace("dropout_ratio: 0.5", "dropout_ratio: 0.6")
                     .replace("num_output: 12", "num_output: 2"))  # fc1: N = 2 reaches 0.5
    with pytest.raises(ScheduleError, match=r"layer 'fc1'.*not achievable"):
        approx_dropout.schedules_for_net(str(net), 10, echo=None)
    assert not list(tmp_path.glob("*.schedule"))  # nothing written when a layer fails


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_ratio_outside_unit_interval_is_rejected(ratio: float) -> None:
    with pytest.raises(ScheduleError, match=r"must lie in \(0, 1\)"):
        approx_dropout.search_distribution(ratio, 16)


def test_unachievable_ratio_is_rejected() -> None:
    with pytest.raises(ScheduleError, match=r"not achievable with max period 2.*\(N-1\)/N"):
        approx_dropout.search_distribution(0.7, 2)
    with pytest.raises(ScheduleError, match="not achievable with max period 4"):
        approx_dropout.make_schedule(0.9, 16, 10, width=4)  # the width caps N at 4


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ScheduleError, match="sum to 1"):
        approx_dropout.search_distribution(0.5, 8, lambda1=0.9, lambda2=0.3)
    with pytest.raises(ScheduleError, match="learning rate must be positive"):
        approx_dropout.search_distribution(0.5, 8, lr=0)
    with pytest.raises(ScheduleError, match="unknown pattern 'diamond'"):
        approx_dropout.make_schedule(0.5, 8, 10, pattern="diamond")


def test_unknown_pattern_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        approx_dropout.main(["--ratio", "0.5", "--iterations", "10", "--pattern", "diamond"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'diamond'" in capsys.readouterr().err


def test_unreadable_schedule_files(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ScheduleError, match="cannot read schedule file .*missing"):
        approx_dropout.read_schedule(tmp_path / "missing.schedule")
    garbage = tmp_path / "garbage.schedule"
    garbage.write_bytes(b"\xff\xff\xff\xff not a protobuf")
    with pytest.raises(ScheduleError, match="garbage.schedule"):
        approx_dropout.read_schedule(garbage)
    empty = tmp_path / "empty.schedule"
    empty.write_bytes(b"")
    with pytest.raises(ScheduleError, match="holds no iterations"):
        approx_dropout.read_schedule(empty)
    broken = caffe_pb2.DropoutSchedule(max_period=2, period=[2, 2], offset=[0, 2])
    bad_offset = tmp_path / "bad.schedule"
    bad_offset.write_bytes(broken.SerializeToString())
    with pytest.raises(ScheduleError, match="offset 2 >= period 2"):
        approx_dropout.read_schedule(bad_offset)


def test_command_line_prints_statistics(tmp_path: pathlib.Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p.schedule"
    status = approx_dropout.main(["--ratio", "0.5", "--max-period", "8", "--iterations", "1000",
                                  "--seed", "7", "--out", str(out)])
    assert status == 0
    text = capsys.readouterr().out
    for label in ("target rate", "achieved rate", "empirical rate", "work kept", "entropy",
                  "sub-models"):
        assert label in text
    schedule = approx_dropout.read_schedule(out)
    summary = approx_dropout.summarize(schedule)
    assert summary.sub_models == sum(set(schedule.period))
    assert summary.kept_fraction == pytest.approx(1 - summary.achieved_rate, abs=1e-6)
    assert f"{summary.entropy:.3f} nats" in text
    assert approx_dropout.main(["--show", str(tmp_path / "nope")]) == 1
    assert "cannot read schedule file" in capsys.readouterr().err


def test_generate_patterns_script_wraps_the_same_cli(tmp_path: pathlib.Path) -> None:
    repo = pathlib.Path(__file__).resolve().parents[2]
    package_root = pathlib.Path(approx_dropout.__file__).parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(package_root)] + sys.path))
    out = tmp_path / "s.schedule"
    result = subprocess.run(
        [sys.executable, str(repo / "scripts" / "generate_patterns.py"), "--ratio", "0.3",
         "--iterations", "50", "--seed", "1", "--out", str(out)],
        capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    expected = approx_dropout.make_schedule(0.3, approx_dropout.default_max_period(0.3), 50, seed=1)
    assert out.read_bytes() == expected.SerializeToString(deterministic=True)


def test_search_warns_when_it_cannot_meet_the_target() -> None:
    with pytest.warns(RuntimeWarning, match="stopped after max_steps=1"):
        approx_dropout.search_distribution(0.5, 16, max_steps=1)
    with pytest.warns(RuntimeWarning, match="misses the target"):
        approx_dropout.make_schedule(0.3, 16, 10, lambda1=0.5)  # entropy outweighs the rate


@pytest.mark.parametrize("ratio, expected", [(0.3, 3), (0.5, 4), (0.6, 5), (0.7, 7), (0.9, 16)])
def test_default_max_period_bounds_the_scaling(ratio: float, expected: int) -> None:
    """N = ceil(2/(1-p)) (at most 16): the rate stays reachable and is met within 0.01."""
    period = approx_dropout.default_max_period(ratio)
    assert period == expected
    assert (period - 1) / period > ratio
    distribution = approx_dropout.search_distribution(ratio)
    assert len(distribution) == period
    assert abs(approx_dropout.achieved_rate(distribution) - ratio) < 0.01


# ---------------------------------------------------------------------------------------------
# Scaling and tile order.

_Param = caffe_pb2.ApproxDropoutParameter


def test_period_scale_warning_names_the_factor() -> None:
    limit = approx_dropout.PERIOD_SCALE_LIMIT
    assert limit == 8
    assert approx_dropout.period_scale_warning(limit, _Param.PERIOD) is None
    assert approx_dropout.period_scale_warning(64, _Param.GLOBAL) is None
    message = approx_dropout.period_scale_warning(16, _Param.PERIOD)
    assert "largest period is 16" in message and "up to 16x" in message and "8x" in message
    assert "scale: GLOBAL" in message and "--max-period 8" in message
    assert "a layer with scale: PERIOD" in approx_dropout.period_scale_warning(9, None)


def test_make_schedule_warns_beyond_the_limit_under_period_only(
        recwarn: pytest.WarningsRecorder) -> None:
    with pytest.warns(RuntimeWarning, match="largest period is 16.*up to 16x, beyond the 8x"):
        approx_dropout.make_schedule(0.5, 16, 2000, scale="period")
    with pytest.warns(RuntimeWarning, match="a layer with scale: PERIOD"):
        approx_dropout.make_schedule(0.5, 16, 2000)  # scale unknown
    recwarn.clear()
    approx_dropout.make_schedule(0.5, 16, 2000, scale="global")
    approx_dropout.make_schedule(0.5, 8, 2000, scale="period")  # at the limit
    assert not [w for w in recwarn if "largest period" in str(w.message)]
    # The period the sequence uses counts, not N: one iteration draws only period 1 or 2 here.
    schedule = approx_dropout.make_schedule(0.3, 2, 1, scale="period")
    assert max(schedule.period) <= 2


def test_cli_prints_the_period_warning(capsys: pytest.CaptureFixture[str]) -> None:
    repo = pathlib.Path(__file__).resolve().parents[2]
    package_root = pathlib.Path(approx_dropout.__file__).parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(package_root)] + sys.path))
    command = [sys.executable, "-m", "caffe.approx_dropout", "--ratio", "0.5", "--iterations",
               "500", "--max-period", "64"]
    result = subprocess.run(command + ["--scale", "period"], capture_output=True, text=True,
                            env=env, cwd=repo, check=False)
    assert result.returncode == 0, result.stderr
    assert "largest period is" in result.stderr and "beyond the 8x" in result.stderr
    assert "largest period " in result.stdout  # the summary line
    result = subprocess.run(command + ["--scale", "global"], capture_output=True, text=True,
                            env=env, cwd=repo, check=False)
    assert result.returncode == 0 and "beyond the 8x" not in result.stderr


def test_net_mode_warns_for_period_layers_only(tmp_path: pathlib.Path,
                                               recwarn: pytest.WarningsRecorder) -> None:
    def net(scale: str) -> pathlib.Path:
        return _write_net(tmp_path, f"""
layer {{ name: "in" type: "Input" top: "x" input_param {{ shape {{ dim: 2 dim: 100 }} }} }}
layer {{ name: "fc" type: "InnerProductApproxDropout" bottom: "x" top: "fc"
  inner_product_param {{ num_output: 100 }}
  approx_dropout_param {{ scale: {scale} schedule_file: "fc.schedule" }} }}
""")
    with pytest.warns(RuntimeWarning, match="this layer \\(scale: PERIOD\\).*up to"):
        approx_dropout.schedules_for_net(str(net("PERIOD")), 1000, max_period=32, echo=None)
    recwarn.clear()
    approx_dropout.schedules_for_net(str(net("GLOBAL")), 1000, max_period=32, echo=None)
    assert not [w for w in recwarn if "largest period" in str(w.message)]


def test_tile_schedules_record_their_tile_order(tmp_path: pathlib.Path) -> None:
    staggered = approx_dropout.make_schedule(0.5, 4, 10, pattern="tile")
    assert staggered.HasField("tile_order") and staggered.tile_order == _Param.STAGGERED
    old = approx_dropout.make_schedule(0.5, 4, 10, pattern="tile", tile_order="row-major")
    assert old.HasField("tile_order") and old.tile_order == _Param.ROW_MAJOR
    assert not approx_dropout.make_schedule(0.5, 4, 10).HasField("tile_order")  # ROW
    with pytest.raises(ScheduleError, match="unknown tile order"):
        approx_dropout.make_schedule(0.5, 4, 10, pattern="tile", tile_order="diagonal")
    # A file from before the field reads as ROW_MAJOR, and --show says so.
    path = tmp_path / "old.schedule"
    legacy = caffe_pb2.DropoutSchedule(pattern=_Param.TILE, max_period=2, period=[2], offset=[1])
    approx_dropout.write_schedule(legacy, path)
    assert "TILE (ROW_MAJOR)" in approx_dropout.format_summary(approx_dropout.read_schedule(path))
    assert "TILE (STAGGERED)" in approx_dropout.format_summary(staggered)


def test_net_mode_writes_the_layers_tile_order(tmp_path: pathlib.Path) -> None:
    net = _write_net(tmp_path, """
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 40 } } }
layer { name: "new" type: "InnerProductApproxDropout" bottom: "x" top: "a"
  inner_product_param { num_output: 40 }
  approx_dropout_param { pattern: TILE tile_size: 8 schedule_file: "new.schedule" } }
layer { name: "old" type: "InnerProductApproxDropout" bottom: "x" top: "b"
  inner_product_param { num_output: 40 }
  approx_dropout_param { pattern: TILE tile_size: 8 tile_order: ROW_MAJOR
                         schedule_file: "old.schedule" } }
""")
    approx_dropout.schedules_for_net(str(net), 50, echo=None)
    assert approx_dropout.read_schedule(tmp_path / "new.schedule").tile_order == _Param.STAGGERED
    assert approx_dropout.read_schedule(tmp_path / "old.schedule").tile_order == _Param.ROW_MAJOR


def test_net_mode_rejects_single_layer_options(tmp_path: pathlib.Path) -> None:
    net = _write_net(tmp_path, NET)
    for option in (["--tile-order", "row-major"], ["--scale", "period"]):
        with pytest.raises(SystemExit):
            approx_dropout.main(["--net", str(net), "--iterations", "10"] + option)


@pytest.mark.parametrize("ratio,min_period,max_period", [(0.7, 3, 4), (0.5, 2, 2), (0.5, 2, 4),
                                                         (0.3, 1, 2), (0.7, 2, 7)])
def test_min_period_leaves_the_short_periods_out(ratio: float, min_period: int,
                                                 max_period: int) -> None:
    d = approx_dropout.search_distribution(ratio, max_period, min_period=min_period)
    assert d.shape == (max_period,)
    assert np.all(d[:min_period - 1] == 0) and np.all(d[min_period - 1:] > 0)
    assert d.sum() == pytest.approx(1.0, abs=1e-12)
    assert abs(approx_dropout.achieved_rate(d) - ratio) < 0.01
    schedule = approx_dropout.make_schedule(ratio, max_period, 500, min_period=min_period)
    assert min(schedule.period) >= min_period
    summary = approx_dropout.summarize(schedule)
    assert summary.smallest_period == min(schedule.period)


def test_min_period_one_is_the_papers_search() -> None:
    np.testing.assert_array_equal(approx_dropout.search_distribution(0.7, 7, min_period=1),
                                  approx_dropout.search_distribution(0.7, 7))


def test_unreachable_min_period_is_rejected() -> None:
    with pytest.raises(ScheduleError, match=r"not achievable with min period 3.*at most 2"):
        approx_dropout.search_distribution(0.5, 4, min_period=3)
    with pytest.raises(ScheduleError, match=r"min period must lie in \[1, max period 4\]"):
        approx_dropout.search_distribution(0.7, 4, min_period=5)


def test_net_mode_applies_the_min_period_to_every_layer(tmp_path: pathlib.Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    net = _write_net(tmp_path, NET)
    # fc1 0.5, fc2 0.3, fc3 0.7: min period 2 drops at least (2-1)/2 = 0.5, more than fc2's 0.3,
    # so the error names fc2 and nothing is written.
    with pytest.raises(ScheduleError, match="layer 'fc2'.*min period 2"):
        approx_dropout.schedules_for_net(str(net), 300, min_period=2, echo=None)
    assert not list(tmp_path.rglob("*.schedule"))
    assert approx_dropout.main(["--net", str(net), "--iterations", "300", "--min-period", "1",
                                "--max-period", "4"]) == 0
    assert "smallest period 1" in capsys.readouterr().out


@pytest.mark.parametrize("ratio,band", [(0.3, (1, 2)), (0.5, (2, 2)), (0.7, (3, 4)),
                                        (0.75, (4, 4)), (0.9, (10, 10))])
def test_period_band_brackets_the_kept_fraction(ratio: float, band: tuple[int, int]) -> None:
    assert approx_dropout.period_band(ratio) == band
    low, high = band
    assert 1 / high <= 1 - ratio + 1e-9 and 1 - ratio <= 1 / low + 1e-9
    d = approx_dropout.search_distribution(ratio, high, min_period=low)
    assert abs(approx_dropout.achieved_rate(d) - ratio) < 0.01


def test_band_and_rotation_advice_only_for_recurrent_nets(tmp_path: pathlib.Path) -> None:
    import warnings
    lstm = _write_net(tmp_path, LSTM_OVER_EMBED + """
  approx_dropout_param { dropout_ratio: 0.7 schedule_file: "lstm.schedule" } }
""")
    rotate = r"approx_dropout_param \{ rotate_offset: true row_layout: BLOCKS \} on lstm$"
    with pytest.warns(RuntimeWarning, match="p = 0.7: --min-period 3 --max-period 4; " + rotate):
        approx_dropout.schedules_for_net(str(lstm), 50, echo=None)
    with pytest.warns(RuntimeWarning, match=r"\): " + rotate):  # chosen periods: no band advice
        approx_dropout.schedules_for_net(str(lstm), 50, echo=None, min_period=3, max_period=4)
    rotated = _write_net(tmp_path, LSTM_OVER_EMBED + """
  approx_dropout_param { dropout_ratio: 0.7 schedule_file: "lstm.schedule" rotate_offset: true } }
""")
    with pytest.warns(RuntimeWarning, match="max-period 4$"):
        approx_dropout.schedules_for_net(str(rotated), 50, echo=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # chosen periods and rotation, or no LSTMs: no advice
        approx_dropout.schedules_for_net(str(rotated), 50, echo=None, min_period=3, max_period=4)
        assert min(approx_dropout.read_schedule(tmp_path / "lstm.schedule").period) == 3
        mlp = tmp_path / "mlp.prototxt"
        mlp.write_text(NET)
        approx_dropout.schedules_for_net(str(mlp), 50, echo=None)
