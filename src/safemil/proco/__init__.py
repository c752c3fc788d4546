"""PROCO (second half): dynamics-model rollouts, counterfactual unsafe samples, feasibility."""
