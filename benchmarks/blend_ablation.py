"""Would a selection head over the pretrained and the box-office stacks pay? Measured on Table 2's checkpoints.

    python benchmarks/blend_ablation.py [--checkpoints checkpoints/table2] [--json out.json]

For every (split, seed) folder of an ``evaluate.py table2=full`` run, it reloads P-EL (fine-tuned
from the pretrain checkpoint), EL (scratch) and the ablation "EL + leaves fine-tuning" (fine-tuned
from the scratch checkpoint). A blend ``w * A + (1 - w) * EL`` has its weight chosen on the
*validation* films (``pel_torch.stages.blend_weight``, a grid of 0.05), then is scored on the test films, for
- A = P-EL: what a head choosing between the pretrained and the box-office stacks would score;
- A = EL + leaves fine-tuning: the same blend without pretraining, the control. Two views of
  the same films blend better than one even without pretraining; only the difference between
  the two rows is pretraining's.
Printed: test R2 gains over EL paired by seed, mean ± std, seeds positive.
"""

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from common import config, split_predictions, table2_members
from pel_torch.stages import blend_weight, regression_metrics

def _blend(a: dict, el: dict) -> tuple[float, float]:
    """Validation-chosen weight of ``a`` (as ``finetune.blend`` chooses it) and the blend's test R2."""
    w = 1 - blend_weight(a["val"][1], el["val"][1], a["val"][0])
    y_test, a_test = a["test"]
    return w, regression_metrics(y_test, w * a_test + (1 - w) * el["test"][1])["r2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", default="checkpoints/table2", help="checkpoints_dir/table2 of a table2=full run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    cfg = config([f"threads={args.threads}"])
    results = {}
    for folder in sorted(p for p in Path(args.checkpoints).iterdir() if p.is_dir()):
        split = folder.name.rsplit("-seed", 1)[0]
        predictions = {name: split_predictions(cfg, path) for name, path in table2_members(folder).items()}
        el = predictions["EL"]
        row = {"EL": regression_metrics(*el["test"])["r2"]}
        for name in ("P-EL", "EL + leaves fine-tuning"):
            row[name] = regression_metrics(*predictions[name]["test"])["r2"]
            row[f"weight {name} + EL"], row[f"{name} + EL"] = _blend(predictions[name], el)
        results.setdefault(split, []).append(row)
        print(f"{folder.name}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items()), file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({"command": "python benchmarks/blend_ablation.py " + " ".join(sys.argv[1:]),
                                               "results": results}, indent=1))
    print("| split | model | test R2 | gain over EL (paired) | seeds positive | mean weight on the first member |\n|---|---|---|---|---|---|")
    for split, rows in results.items():
        el = np.array([r["EL"] for r in rows])
        for name in ("P-EL", "EL + leaves fine-tuning", "P-EL + EL", "EL + leaves fine-tuning + EL"):
            r2 = np.array([r[name] for r in rows])
            gain = r2 - el
            weight = f"{np.mean([r[f'weight {name}'] for r in rows]):.2f}" if f"weight {name}" in rows[0] else "-"
            print(f"| {split} | {name} | {r2.mean():.3f} ± {r2.std(ddof=1):.3f} | {gain.mean():+.3f} ± {gain.std(ddof=1):.3f} | "
                  f"{(gain > 0).sum()} of {len(rows)} | {weight} |")


if __name__ == "__main__":
    main()
