"""The Safety-Gymnasium v1 velocity cost on top of an unchanged gymnasium MuJoCo v4 env.

cost_t = 1 if v_t > threshold else 0, where v_t is the body's x-velocity
measured from the position change over one control step (the value the v4
envs already report as ``info["x_velocity"]``); for Ant it is the planar speed.
The cost goes to ``info["cost"]``: the evaluator reads it, learners never see it.
"""

from __future__ import annotations

import math

import gymnasium as gym


class VelocityCost(gym.Wrapper):
    def __init__(self, env: gym.Env, threshold: float, planar: bool = False):
        super().__init__(env)
        self.threshold = float(threshold)
        self.planar = planar

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        vx = float(info["x_velocity"])
        speed = math.hypot(vx, float(info["y_velocity"])) if self.planar else vx
        info["velocity"] = speed
        info["cost"] = 1.0 if speed > self.threshold else 0.0
        return obs, reward, terminated, truncated, info
