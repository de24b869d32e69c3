"""Sums over bags of a flat member list (``offsets[k] .. offsets[k + 1] - 1`` is bag ``k``): the rated sets kept by
SVD++ (films per user) and AutoRec (users per film), summed for every bag while predicting and for a batch's own
bags while fitting, where the gradient of every bag at every batch would cost far more than the batch itself."""

import torch
from torch import nn


def bag_members(offsets: torch.Tensor, bags: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The positions of every member of ``bags`` (bag ``k`` holds ``offsets[k] .. offsets[k + 1] - 1``), and the index
    into ``bags`` of the bag each position belongs to."""
    starts, counts = offsets[bags], offsets[bags + 1] - offsets[bags]
    bag = torch.repeat_interleave(torch.arange(len(bags)), counts)
    first = torch.cumsum(counts, 0) - counts                     # where each bag's members start in the result
    return starts[bag] + torch.arange(int(counts.sum())) - first[bag], bag


def bag_sums(table: nn.Embedding | torch.Tensor, members: torch.Tensor, offsets: torch.Tensor, bags: torch.Tensor | None = None,
             weights: torch.Tensor | None = None) -> torch.Tensor:
    """``(n_bags, dim)``: the sum of ``table``'s rows ``members`` over each bag, each row times its ``weights`` entry if
    given; every bag when ``bags`` is None, else those bags, in their order."""
    table = table.weight if isinstance(table, nn.Embedding) else table
    if bags is None:
        return nn.functional.embedding_bag(members, table, offsets[:-1], mode="sum", per_sample_weights=weights)
    positions, _ = bag_members(offsets, bags)
    counts = offsets[bags + 1] - offsets[bags]
    return nn.functional.embedding_bag(members[positions], table, torch.cumsum(counts, 0) - counts, mode="sum",
                                       per_sample_weights=None if weights is None else weights[positions])


def fitting_a_batch() -> bool:
    """Whether this forward trains eagerly: gradients recorded, nothing compiled or exported (those trace every bag)."""
    return torch.is_grad_enabled() and not (torch.compiler.is_compiling() or torch.compiler.is_exporting())
