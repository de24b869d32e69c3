"""Time fitting the default P-EL stack (2 layers x 5 learners x 5 folds) on the rating table.

    python benchmarks/fit_stack.py [--split random] [--threads 2] [--jobs 1] [--json]

``--jobs 2 --threads 1``: two fits at once, one thread each, against one fit at a time on two threads.

The random split's pretraining set holds every rated film but the box-office validation and test
films (~16,400 of the 17,130 rated films); the temporal one only films before the validation years.
"""

import argparse
import json
import logging
import sys
import time

from common import QUICK, config, fit_default_stack, rating_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="random", choices=["random", "temporal"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=1, help="fits at once (jobs=)")
    parser.add_argument("--quick", action="store_true", help="tiny learners: checks the script runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    cfg = config([f"split={args.split}", f"threads={args.threads}", f"jobs={args.jobs}"] + (QUICK if args.quick else []))
    prepared, rows, y, _ = rating_table(cfg)
    X = prepared.features[rows]
    ensemble, seconds = fit_default_stack(cfg, X, y)
    oof_r2 = float(1 - ((y - ensemble.oof_ @ ensemble.weights_) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    result = {"rows": int(len(y)), "features": int(X.shape[1]), "threads": args.threads, "jobs": args.jobs, "split": args.split,
              "fit_seconds": round(seconds, 1), "oof_r2": round(oof_r2, 4), "quick": args.quick,
              "weights": dict(zip(ensemble.learner_names[-1], ensemble.weights_.round(3).tolist())),
              "date": time.strftime("%Y-%m-%d")}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"fitted the default stack on {result['rows']:,} rated films x {result['features']} features "
              f"in {seconds / 60:.1f} min with {args.threads} threads x {args.jobs} jobs; out-of-fold R2 {oof_r2:.4f}")


if __name__ == "__main__":
    main()
