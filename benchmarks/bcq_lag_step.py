"""Our BCQ-Lag update against a minimal torch loop doing the same arithmetic, measured in the same run.

BCQ-Lag is PROCO's offline-RL base and the slowest learner of the proco grids. One update trains
a conditional VAE, twin reward and twin cost critics against clipped double-Q targets at the
target actor's perturbed decoded action, the perturbation actor on ``Q_r - lambda Q_c``, a PID
Lagrange multiplier, then soft-updates three target networks. Reference: those same networks
(built by our learner, so sizes and initial weights match), losses and batch sizes (three batches
of 256 rows per update, drawn uniformly from tensors in memory), written as a single-file
implementation would: ``torch.optim.Adam``, a parameter-by-parameter soft update, a PID in plain
Python, no oversampled costly rows, no running statistics, nothing logged. Ours:
``BCQLagLearner.step`` as the runner calls it (its metrics converted to floats). Both run in this
process on one torch thread and keep the median of ``--rounds`` interleaved rounds of CPU time, so
load from other jobs hits both alike.

Data: HalfCheetahVelocity's sizes (obs 17, act 6), 200,000 random transitions with 1% costly rows.
The last line is ``ratio=<ours / minimal loop>``.

    .venv/bin/python benchmarks/bcq_lag_step.py [--steps 50 --rounds 7]
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse

import numpy as np
import torch
from step_timing import Stepper, floats, median_ms
from torch.nn import functional as F

from safemil.algos.bcq_lag import BCQLagConfig, BCQLagLearner, PIDLagrangian

OBS_DIM, ACT_DIM, ROWS, EPISODE_LEN, COST_LIMIT = 17, 6, 200_000, 1000, 25.0


def buffer(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(ROWS, OBS_DIM)).astype(np.float32)
    return {"observations": obs, "actions": np.tanh(rng.normal(size=(ROWS, ACT_DIM))).astype(np.float32),
            "next_observations": np.roll(obs, -1, 0), "rewards": rng.normal(size=ROWS).astype(np.float32),
            "costs": (rng.random(ROWS) < 0.01).astype(np.float32), "terminals": np.zeros(ROWS, np.float32)}


def learner(config: BCQLagConfig) -> BCQLagLearner:
    return BCQLagLearner(config, buffer(), -np.ones(ACT_DIM), np.ones(ACT_DIM), COST_LIMIT, EPISODE_LEN, seed=0)


class MinimalLoop:
    """The same update on a fresh learner's networks, with nothing but the arithmetic."""

    def __init__(self, config: BCQLagConfig):
        src = learner(config)
        self.c, self.p = config, src.policy_net
        self.qr, self.qc, self.qr_t, self.qc_t = src.qr, src.qc, src.qr_t, src.qc_t
        self.perturb_t = src.target_perturb
        self.data = {k: v.float() for k, v in src.real.items()}
        p = self.p
        self.opt_vae = torch.optim.Adam([*p.encoder.parameters(), *p.decoder.parameters()], config.lr_vae)
        self.opt_actor = torch.optim.Adam(p.perturb.parameters(), config.lr_actor)
        self.opt_critic = torch.optim.Adam([*self.qr.parameters(), *self.qc.parameters()], config.lr_critic)
        self.pid = PIDLagrangian(config.pid, src.q_limit, config.lambda_max)
        self.tau = src.tau

    def batch(self) -> dict[str, torch.Tensor]:
        i = torch.randint(0, ROWS, (self.c.batch_size,))
        return {k: v[i] for k, v in self.data.items()}

    def step(self) -> None:
        c, p = self.c, self.p
        b = self.batch()  # VAE
        s_n, a = p.norm(b["observations"]), b["actions"]
        mu, log_std = p.encoder(torch.cat([s_n, a], -1)).chunk(2, -1)
        log_std = log_std.clamp(-4, 15)
        recon = torch.tanh(p.decoder(torch.cat([s_n, mu + log_std.exp() * torch.randn_like(mu)], -1)))
        kl = -0.5 * (1 + 2 * log_std - mu.pow(2) - (2 * log_std).exp()).mean()
        self.opt_vae.zero_grad()
        (F.mse_loss(recon, a) + 0.5 * kl).backward()
        self.opt_vae.step()

        b = self.batch()  # critics
        s_n, a, sn2 = p.norm(b["observations"]), b["actions"], p.norm(b["next_observations"])
        with torch.no_grad():
            a_dec = p.decode(sn2, torch.randn(len(sn2), p.latent))
            a2 = (a_dec + c.phi * torch.tanh(self.perturb_t(torch.cat([sn2, a_dec], -1)))).clamp(-1, 1)
            r1, r2 = self.qr_t(sn2, a2)
            c1, c2 = (x.clamp_min(0) for x in self.qc_t(sn2, a2))
            notdone = c.gamma * (1 - b["terminals"])
            yr = b["rewards"] * c.reward_scale + notdone * (0.75 * torch.minimum(r1, r2) + 0.25 * torch.maximum(r1, r2))
            yc = b["costs"] + notdone * (0.75 * torch.maximum(c1, c2) + 0.25 * torch.minimum(c1, c2))
        q1, q2 = self.qr(s_n, a)
        k1, k2 = self.qc(s_n, a)
        self.opt_critic.zero_grad()
        (F.mse_loss(q1, yr) + F.mse_loss(q2, yr) + F.mse_loss(k1, yc) + F.mse_loss(k2, yc)).backward()
        self.opt_critic.step()

        s_n = p.norm(self.batch()["observations"])  # actor
        with torch.no_grad():
            a_dec = p.decode(s_n, torch.randn(len(s_n), p.latent))
        a_pi = p.perturbed(s_n, a_dec)
        qc_pi = torch.maximum(*self.qc(s_n, a_pi)).clamp_min(0)
        self.opt_actor.zero_grad()
        (-self.qr.q1(torch.cat([s_n, a_pi], -1)).squeeze(-1) + self.pid.lam * qc_pi).mean().backward()
        self.opt_actor.step()
        self.pid.update(float(qc_pi.detach().mean()))

        with torch.no_grad():
            for net, target in ((self.qr, self.qr_t), (self.qc, self.qc_t), (p.perturb, self.perturb_t)):
                for w, wt in zip(net.parameters(), target.parameters(), strict=True):
                    wt.copy_(self.tau * w + (1 - self.tau) * wt)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50, help="updates per timing round")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = BCQLagConfig()
    ours = learner(config)
    ms = median_ms({"ours (BCQLagLearner.step)": Stepper(lambda: floats(ours.step())),
                    "minimal loop": Stepper(MinimalLoop(config).step)}, args.rounds, args.steps, warmup=5)
    for k, v in ms.items():
        print(f"{k:28s} {v:7.2f} CPU ms/update")
    print(f"ratio={ms['ours (BCQLagLearner.step)'] / ms['minimal loop']:.3f}")


if __name__ == "__main__":
    main()
