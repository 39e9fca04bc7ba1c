# %% [markdown]
# # A synthetic table from a DataFrame, in a notebook
#
# `synthgate.synthesize` runs a whole job on a DataFrame: the default policy
# pack's PII actions, the DP engine chosen by `auto`, validation against a
# holdout, the policy gate and the audit log. ε is charged to the privacy budget
# of the data set's `name` in the state folder. Open this file as a notebook
# (Jupyter with jupytext, or VS Code's "Run Cell"), or run it as a script.

# %%
import numpy as np
import pandas as pd

import synthgate

rng = np.random.default_rng(0)
n = 5000
customers = pd.DataFrame(
    {
        "email": [f"customer{i}@example.com" for i in range(n)],
        "plan": rng.choice(["free", "pro", "enterprise"], n, p=[0.6, 0.3, 0.1]),
        "monthly_spend": np.round(rng.gamma(2.0, 40.0, n), 2),
        "age": rng.integers(18, 80, n),
        "churned": rng.random(n) < 0.2,
    }
)

# %% What personal data is there, and what would the default pack do with it?
synthgate.inspect(customers).to_frame()

# %% A synthetic table at epsilon 2, its rows conditioned on the target column
result = synthgate.synthesize(
    customers, epsilon=2.0, target="churned", name="customers", home=".synthgate-notebook"
)
print(result.status, result.epsilon, result.failed_rules)
result.data.head()

# %% The privacy ledger: every mechanism that read a real row
pd.DataFrame(result.ledger)[["stage", "mechanism", "epsilon"]]

# %% The review report (HTML; in a notebook `result` alone renders it)
metrics = {m["name"]: m.get("value") for m in result.report["metrics"]}
print(metrics["fidelity.quality"], metrics["structural.validity"], metrics["utility.tstr_ratio"])
