"""caffe.Classifier and caffe.Detector against predictions computed here with numpy."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

import caffe

pytestmark = pytest.mark.skipif(
    not {"Input", "InnerProduct", "Softmax"} <= set(caffe.layer_type_list()),
    reason="needs the Input, InnerProduct and Softmax layers")

MEAN_BGR = np.array([100.0, 110.0, 120.0])


def deploy_text(batch: int, size: int) -> str:
    return f"""\
name: "tiny_classifier"
layer {{ name: "data" type: "Input" top: "data"
        input_param {{ shape {{ dim: {batch} dim: 3 dim: {size} dim: {size} }} }} }}
layer {{ name: "score" type: "InnerProduct" bottom: "data" top: "score"
        inner_product_param {{ num_output: 3 weight_filler {{ type: "gaussian" std: 0.002 }}
                              bias_filler {{ type: "gaussian" std: 0.1 }} }} }}
layer {{ name: "prob" type: "Softmax" bottom: "score" top: "prob" }}
"""


@pytest.fixture(autouse=True)
def cpu_mode() -> Iterator[None]:
    caffe.set_mode_cpu()
    yield


def model_files(tmp_path: Path, batch: int, size: int) -> tuple[str, str, np.ndarray, np.ndarray]:
    """deploy.prototxt and its weights; returns their paths and the weights."""
    deploy = tmp_path / "deploy.prototxt"
    deploy.write_text(deploy_text(batch, size))
    caffe.set_random_seed(3)
    net = caffe.Net(str(deploy), caffe.TEST)
    weights = tmp_path / "weights.caffemodel"
    net.save(str(weights))
    return str(deploy), str(weights), net.params["score"][0].data.copy(), \
        net.params["score"][1].data.copy()


def expected_probabilities(crop: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The tiny net on one (H, W, 3) RGB crop in [0, 1], preprocessed as the BVLC reference
    models are (BGR, [0, 255], mean subtracted)."""
    caffe_in = crop.transpose(2, 0, 1)[::-1] * 255.0 - MEAN_BGR[:, None, None]
    scores = weights.astype(np.float64) @ caffe_in.ravel() + bias
    exponentials = np.exp(scores - scores.max())
    return exponentials / exponentials.sum()


SETTINGS = dict(mean=MEAN_BGR, raw_scale=255, channel_swap=(2, 1, 0))


# ---------------------------------------------------------------------------------------------
# Classifier

def test_classifier_is_a_net_configured_for_its_input(tmp_path: Path) -> None:
    deploy, weights, _, _ = model_files(tmp_path, batch=4, size=4)
    classifier = caffe.Classifier(deploy, weights, image_dims=(6, 6), **SETTINGS)
    assert isinstance(classifier, caffe.Net)
    assert classifier.phase == caffe.TEST
    assert list(classifier.crop_dims) == [4, 4] and list(classifier.image_dims) == [6, 6]
    assert classifier.transformer.transpose["data"] == (2, 0, 1)
    assert list(caffe.Classifier(deploy, weights).image_dims) == [4, 4]


def test_predict_centre_crop(tmp_path: Path) -> None:
    deploy, weights_file, weights, bias = model_files(tmp_path, batch=4, size=4)
    classifier = caffe.Classifier(deploy, weights_file, image_dims=(6, 6), **SETTINGS)
    images = list(np.random.default_rng(0).random((5, 6, 6, 3)))
    predictions = classifier.predict(images, oversample=False)
    assert predictions.shape == (5, 3)
    for image, prediction in zip(images, predictions):
        expected = expected_probabilities(image[1:5, 1:5], weights, bias)
        np.testing.assert_allclose(prediction, expected, rtol=1e-4, atol=1e-6)


def test_predict_oversample_averages_the_ten_crops(tmp_path: Path) -> None:
    deploy, weights_file, weights, bias = model_files(tmp_path, batch=4, size=4)
    classifier = caffe.Classifier(deploy, weights_file, image_dims=(6, 6), **SETTINGS)
    images = list(np.random.default_rng(1).random((3, 6, 6, 3)))
    predictions = classifier.predict(images)
    assert predictions.shape == (3, 3)
    for image, prediction in zip(images, predictions):
        windows = [image[:4, :4], image[:4, 2:], image[2:, :4], image[2:, 2:], image[1:5, 1:5]]
        windows += [window[:, ::-1] for window in windows]
        expected = np.mean([expected_probabilities(w, weights, bias) for w in windows], axis=0)
        np.testing.assert_allclose(prediction, expected, rtol=1e-4, atol=1e-6)


def test_predict_rejects_no_images_and_small_image_dims(tmp_path: Path) -> None:
    deploy, weights, _, _ = model_files(tmp_path, batch=2, size=4)
    with pytest.raises(ValueError, match="at least one image"):
        caffe.Classifier(deploy, weights).predict([])
    small = caffe.Classifier(deploy, weights, image_dims=(3, 3))
    with pytest.raises(ValueError, match="larger than image_dims"):
        small.predict([np.zeros((8, 8, 3))], oversample=False)


# ---------------------------------------------------------------------------------------------
# Detector

@pytest.fixture
def image_file(tmp_path: Path) -> tuple[str, np.ndarray]:
    pixels = np.random.default_rng(2).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    path = tmp_path / "scene.png"
    Image.fromarray(pixels).save(path)
    return str(path), pixels.astype(np.float64) / 255.0


def test_detect_windows_scores_each_window(tmp_path: Path,
                                           image_file: tuple[str, np.ndarray]) -> None:
    deploy, weights_file, weights, bias = model_files(tmp_path, batch=2, size=4)
    detector = caffe.Detector(deploy, weights_file, **SETTINGS)
    path, image = image_file
    windows = [(2, 3, 6, 7), (0, 0, 4, 4), (6, 8, 10, 12)]
    detections = detector.detect_windows([(path, windows), (path, [])])
    assert [d["filename"] for d in detections] == [path] * 3
    for detection, (ymin, xmin, ymax, xmax) in zip(detections, windows):
        np.testing.assert_array_equal(detection["window"], [ymin, xmin, ymax, xmax])
        expected = expected_probabilities(image[ymin:ymax, xmin:xmax], weights, bias)
        np.testing.assert_allclose(detection["prediction"], expected, rtol=1e-4, atol=1e-6)
    assert detector.detect_windows([(path, [])]) == []


def test_context_padding_takes_surroundings_and_fills_with_the_mean(
        tmp_path: Path, image_file: tuple[str, np.ndarray]) -> None:
    deploy, weights_file, _, _ = model_files(tmp_path, batch=2, size=4)
    detector = caffe.Detector(deploy, weights_file, context_pad=1, **SETTINGS)
    _, image = image_file
    # A 2 x 2 window warped into the 2 x 2 middle of a 4 x 4 crop: one pixel of context around.
    np.testing.assert_allclose(detector.crop(image, (4, 4, 6, 6)), image[3:7, 3:7], rtol=1e-6)
    corner = detector.crop(image, (0, 0, 2, 2))
    np.testing.assert_allclose(corner[1:, 1:], image[0:3, 0:3], rtol=1e-6)
    mean_rgb = MEAN_BGR[::-1] / 255.0
    np.testing.assert_allclose(corner[0, :], np.tile(mean_rgb, (4, 1)), rtol=1e-6)
    np.testing.assert_allclose(corner[:, 0], np.tile(mean_rgb, (4, 1)), rtol=1e-6)
    without_context = caffe.Detector(deploy, weights_file)
    np.testing.assert_array_equal(without_context.crop(image, (1, 2, 5, 9)), image[1:5, 2:9])
    with pytest.raises(ValueError, match="empty"):
        without_context.crop(image, (5, 2, 5, 9))
    with pytest.raises(ValueError, match="context_pad 2"):
        caffe.Detector(deploy, weights_file, context_pad=2)


def test_selective_search_needs_its_package(tmp_path: Path) -> None:
    deploy, weights, _, _ = model_files(tmp_path, batch=2, size=4)
    with pytest.raises(ImportError, match="selective_search_ijcv_with_python"):
        caffe.Detector(deploy, weights).detect_selective_search(["x.jpg"])
