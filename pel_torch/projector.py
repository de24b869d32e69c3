"""Learned id vectors in TensorBoard's projector: every id-embedding learner of a fitted model, labelled by the task.

A learner shows its vectors through ``embeddings()`` (id group -> ``(n_ids, dim)``, row 0 the
unknown id); a task labels the groups it wants shown (``Prepared.labels``). Only each learner's
first fold is shown: the folds are fitted apart, so their vector spaces are not aligned and
cannot be averaged.
"""

import pandas as pd
from torch import nn


def log_embeddings(experiment, model: nn.Module, labels: dict[str, pd.DataFrame] | None, stage: str) -> list[str]:
    """Adds each labelled embedding of ``model`` (a ``Blend``) to ``experiment`` (a SummaryWriter); returns the tags."""
    if not labels or not hasattr(experiment, "add_embedding"):
        return []
    tags = []
    for member_name, member in zip(model.names, model.members):
        for depth, layer in enumerate(member.stack.layers):
            for name, learner in zip(layer.names, layer.learners):
                first = learner.folds[0] if hasattr(learner, "folds") else learner
                for group, vectors in (first.embeddings() if hasattr(first, "embeddings") else {}).items():
                    if group not in labels:
                        continue
                    # row 0, the unknown id, is never trained; a tab or newline would break the projector's TSV
                    table = labels[group].iloc[1:len(vectors)].astype(str).replace(r"[\t\r\n]", " ", regex=True)
                    tag = f"{stage}/{member_name}/layer {depth + 1} {name}/{group}"
                    metadata = table.iloc[:, 0].tolist() if table.shape[1] == 1 else table.values.tolist()
                    experiment.add_embedding(vectors.detach().float().cpu()[1:len(table) + 1], metadata=metadata,
                                             metadata_header=None if table.shape[1] == 1 else list(table.columns), tag=tag)
                    tags.append(tag)
    return tags
