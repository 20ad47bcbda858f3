"""scripts/reproduce_mnist.py's run plan: which variants each pattern gets (tile orders for TILE,
row layouts for ROW), their folder suffixes and table cells, and the nets they write."""
from __future__ import annotations

import reproduce_mnist
from lib import mlp_nets


def test_row_layouts_apply_to_row_runs_only() -> None:
    runs = reproduce_mnist.plan("a", [0.5], ["ROW", "TILE"], tile_orders=["STAGGERED"],
                                row_layouts=["STRIDED", "BLOCKS"])
    variants = [(pattern, variant) for _, _, pattern, _, variant, _ in runs]
    assert variants == [
        ("STANDARD", reproduce_mnist.Variant()),
        ("ROW", reproduce_mnist.Variant(row_layout="STRIDED")),
        ("ROW", reproduce_mnist.Variant(row_layout="BLOCKS")),
        ("TILE", reproduce_mnist.Variant(tile_order="STAGGERED")),
    ]
    assert reproduce_mnist.Variant(row_layout="BLOCKS").suffix() == "_blocks"


def test_table_and_net_name_the_row_layout() -> None:
    result = reproduce_mnist.RunResult("a", [2048, 2048], "ROW", 0.5, 100, 0.97, 10.0,
                                       row_layout="BLOCKS")
    assert "| BLOCKS |" in reproduce_mnist.markdown_table([result])
    assert reproduce_mnist.series_label(result) == "ROW BLOCKS"
    layer = mlp_nets.HiddenLayer("row", 0.5, "ip1.schedule", row_layout="BLOCKS")
    assert "row_layout: BLOCKS" in mlp_nets.input_mlp([64], [layer], 8)
