"""scripts/bench_lstm.py: its nets build in TRAIN (with schedules) and train a few solver steps,
on a tiny language model (V 50, H 8, T 3, N 2); PyTorch's step only where torch is installed."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import bench_lstm
from lib import bench_common

caffe = pytest.importorskip("caffe")

SHAPE = bench_lstm.LmShape(vocab=50, hidden=8, layers=2, steps=3, streams=2)
RATIO = 0.5
ITERATIONS, WARMUP = 3, 1


def _nets(tmp_path: Path, shape: bench_lstm.LmShape = SHAPE) -> dict[str, Path]:
    """Our five nets written to tmp_path, with the ROW/ROW_ROT/TILE schedules (4×4 tiles)
    generated."""
    texts = bench_lstm.our_nets(shape, RATIO, tmp_path, rotate=True)
    texts["TILE"] = bench_lstm.approx_net(shape, RATIO, "TILE", tmp_path / "tile", tile_size=4)
    paths = {}
    for pattern, text in texts.items():
        paths[pattern] = tmp_path / f"{pattern}.prototxt"
        paths[pattern].write_text(text)
        if pattern in ("ROW", bench_lstm.ROTATED_ROW, "TILE"):
            (tmp_path / pattern.lower()).mkdir()
            rates = bench_common.write_aligned_schedules(paths[pattern], ITERATIONS, WARMUP)
            assert set(rates) == {f"lstm{i + 1}" for i in range(shape.layers)} | {"decoder"}
            assert all(0.0 <= rate < 1.0 for rate in rates.values())
    return paths


def test_nets_build_in_train_with_the_expected_widths(tmp_path: Path) -> None:
    paths = _nets(tmp_path)
    kept = bench_lstm.kept_width(SHAPE.hidden, RATIO)
    for pattern, path in paths.items():
        net = caffe.Net(str(path), caffe.TRAIN)
        assert net.blobs["logits"].data.shape == (SHAPE.steps, SHAPE.streams, SHAPE.vocab)
        assert net.blobs["h2"].data.shape == (SHAPE.steps, SHAPE.streams, SHAPE.hidden)
        width = kept if pattern == "IDEAL" else SHAPE.hidden
        assert net.params["lstm1"][0].data.shape == (4 * SHAPE.hidden, width)
        assert net.params["lstm2"][0].data.shape == (4 * SHAPE.hidden, width)
        assert net.params["decoder"][0].data.shape == (SHAPE.vocab, width)
        assert len(net.params["embed"]) == 1  # no bias, like nn.Embedding
    assert "drop0" in caffe.Net(str(paths["NONE"]), caffe.TRAIN).layer_dict


def test_aligned_schedule_gives_every_timed_iteration_one_generated_entry(tmp_path: Path) -> None:
    from caffe import approx_dropout
    paths = _nets(tmp_path)
    schedule = approx_dropout.read_schedule(tmp_path / "row" / "lstm1.schedule")
    assert len(schedule.period) == WARMUP + ITERATIONS
    assert list(schedule.period[:WARMUP]) == list(schedule.period[WARMUP:WARMUP + WARMUP])
    assert paths["ROW"].read_text().count(str((tmp_path / "row").resolve())) == 3
    assert paths[bench_lstm.ROTATED_ROW].read_text().count("rotate_offset: true") == 3
    assert "rotate_offset" not in paths["ROW"].read_text()


@pytest.mark.parametrize("layers", [2, 3])
def test_each_net_trains_solver_steps(tmp_path: Path, layers: int) -> None:
    caffe.set_mode_cpu()
    shape = bench_lstm.LmShape(SHAPE.vocab, SHAPE.hidden, layers, SHAPE.steps, SHAPE.streams)
    batch = bench_lstm.random_batch(shape)
    for pattern, path in _nets(tmp_path, shape).items():
        solver = bench_lstm.make_solver(caffe, path, batch)
        np.testing.assert_array_equal(solver.net.blobs["cont"].data, 1.0)
        before = solver.net.params["decoder"][0].data.copy()
        solver.step(WARMUP + ITERATIONS)
        assert solver.iter == WARMUP + ITERATIONS
        assert math.isfinite(float(solver.net.blobs["loss"].data))
        assert not np.array_equal(before, solver.net.params["decoder"][0].data), pattern


def test_ideal_net_needs_a_narrower_input() -> None:
    with pytest.raises(ValueError, match="1 <= k < H"):
        bench_lstm.ideal_net(SHAPE, 0.01)


def test_torch_step_runs() -> None:
    torch = pytest.importorskip("torch")
    step = bench_lstm.torch_step(torch, SHAPE, RATIO, bench_lstm.random_batch(SHAPE))
    step()
    step()


def test_help_and_bad_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench_lstm.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "--ratios" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench_lstm.parse_args(["--ratios", "1.0"])


def test_openblas_contender_steps_on_openblas_and_restores_onednn(tmp_path: Path) -> None:
    caffe.set_mode_cpu()
    path = _nets(tmp_path)["NONE"]
    solver = bench_lstm.make_solver(caffe, path, bench_lstm.random_batch(SHAPE))

    class Recording:  # the solver, noting the library each step ran on
        backends: list[str] = []

        def step(self, iterations: int) -> None:
            self.backends.append(caffe.gemm_backend())
            solver.step(iterations)

    recording = Recording()
    bench_lstm.on_openblas(caffe, recording)()
    assert recording.backends == ["OpenBLAS"] and caffe.gemm_backend() == "oneDNN"
    assert solver.iter == 1
    rows = bench_lstm.result_rows(
        bench_lstm.CONFIGS["small"], RATIO,
        {"NONE": [2.0], "ROW": [1.0], "TILE": [1.0], "IDEAL": [1.0],
         bench_lstm.OPENBLAS_ROW: [4.0], "torch": [3.0]})
    openblas = rows[-1]
    assert openblas["pattern"] == bench_lstm.OPENBLAS_ROW
    assert (openblas["ms_torch"], openblas["speedup"]) == (3.0, 0.5)
