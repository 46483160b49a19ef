"""The screened output head: approximate scores for all rows, exact ones for the best."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from quant_fixtures import random_blocks  # noqa: E402

from marshalike_runtime.blocks import q8_0_groups  # noqa: E402
from marshalike_runtime.quant_head import HeadScreen, Int8Table, ScreenedHead  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def test_int8_table_rows_are_exact_for_q8_0_codes() -> None:
    rng = np.random.default_rng(1)
    groups = q8_0_groups(random_blocks(rng, 40, "Q8_0"))  # 40 rows of 512
    table = Int8Table(torch.from_numpy(groups.codes), torch.from_numpy(groups.scale))
    ids = torch.tensor([[0, 39, 7]])
    expected = torch.from_numpy(groups.dequantize())[ids]
    assert torch.equal(table(ids), expected)


def test_screened_head_rescores_its_candidates_exactly() -> None:
    torch.manual_seed(0)
    weight = torch.randn(320, 64)
    table = Int8Table.from_float(weight)
    head = ScreenedHead(HeadScreen.from_weight(weight), table, candidates=8)
    x = torch.randn(3, 64)
    logits = head(x)
    exact = x @ table.rows(torch.arange(320)).T
    screen = head.approx(x)
    candidates = screen.topk(8, dim=-1).indices
    torch.testing.assert_close(logits.gather(1, candidates), exact.gather(1, candidates))
    others = torch.ones_like(logits, dtype=torch.bool).scatter_(1, candidates, False)
    torch.testing.assert_close(logits[others], screen[others])  # approximate
    # The screen rounds the activations to int8 per group of 64: close to the 4-bit product.
    four_bit = x @ head.approx.weight().T
    assert float((screen - four_bit).norm() / four_bit.norm()) < 0.02
    # which is a min/max 4-bit copy of the weight: each value within half a step of it.
    step = (weight.reshape(320, 1, 64).amax(-1) - weight.reshape(320, 1, 64).amin(-1)) / 15
    assert bool(((head.approx.weight() - weight).abs() <= step * 0.5 + 1e-2).all())
    assert logits.argmax(-1).tolist() == exact.argmax(-1).tolist()
