"""Open Bandit Pipeline 0.4.1 on the same inputs as `cartback ope`: the OBD random log and
the reference tables. Prints one JSON object: obp's estimates, intervals and timings."""
import json
import sys
import time

t_start = time.perf_counter()
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from obp.ope import (  # noqa: E402
    DirectMethod,
    DoublyRobust,
    InverseProbabilityWeighting,
    SelfNormalizedDoublyRobust,
    SelfNormalizedInverseProbabilityWeighting,
    SwitchDoublyRobust,
)

t_imported = time.perf_counter()
log_path, reference_path, n_bootstrap, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
log = pd.read_csv(log_path, index_col=0)
reference = json.load(open(reference_path))
n = len(log)
action = log["item_id"].to_numpy()
position = log["position"].to_numpy() - 1
reward = log["click"].to_numpy()
pscore = log["propensity_score"].to_numpy()
pi = np.array(reference["evaluation_action_dist"])  # (actions, positions)
q = np.array(reference["reward_model_table"])
action_dist = np.tile(pi, (n, 1, 1))
rewards_by_model = np.tile(q, (n, 1, 1))
t_loaded = time.perf_counter()

estimators = {
    "ipw": InverseProbabilityWeighting(),
    "snipw": SelfNormalizedInverseProbabilityWeighting(),
    "dm": DirectMethod(),
    "dr": DoublyRobust(),
    "sndr": SelfNormalizedDoublyRobust(),
    "switch-dr-100": SwitchDoublyRobust(tau=100.0),
}
inputs = dict(
    reward=reward,
    action=action,
    position=position,
    pscore=pscore,
    action_dist=action_dist,
    estimated_rewards_by_reg_model=rewards_by_model,
)
estimates = {name: float(e.estimate_policy_value(**inputs)) for name, e in estimators.items()}
t_estimated = time.perf_counter()
intervals = {}
for name, e in estimators.items():
    ci = e.estimate_interval(**inputs, alpha=0.05, n_bootstrap_samples=n_bootstrap, random_state=seed)
    intervals[name] = {
        "mean": float(ci["mean"]),
        "low": float(ci["95.0% CI (lower)"]),
        "high": float(ci["95.0% CI (upper)"]),
    }
t_done = time.perf_counter()
print(
    json.dumps(
        {
            "estimates": estimates,
            "intervals": intervals,
            "n": n,
            "seconds": {
                "import": t_imported - t_start,
                "load": t_loaded - t_imported,
                "estimates": t_estimated - t_loaded,
                "bootstrap": t_done - t_estimated,
                "total_after_import": t_done - t_imported,
            },
        }
    )
)
