"""Object placement with upstream's rule and random stream, so a seed gives upstream's layout.

Every draw comes from one ``np.random.RandomState`` in upstream's order (agent,
then objects in obstacle order; heading; per-object rotations; then the goal
re-placement or goal-button choice), so the same seed gives the same layout.

Upstream's rule is slow by nature for PointButton1 (about 60 whole-layout
attempts and 10,000 draws per layout, most of them gremlins that find no room).
So the layout's draws are fetched in blocks (``uniform(lo, hi)`` is exactly
``lo + (hi - lo) * random_sample()``), an object's first few candidates are
checked one by one and the rest of its 100 tries as an array (the four gremlins
share one array check against what was placed before them), and afterwards the
generator is left exactly where upstream's single draws would have left it.
"""

from __future__ import annotations

import math

import numpy as np

from safemil.errors import TaskError
from safemil.tasks.nav.config import NavTaskConfig

Rect = tuple[float, float, float, float]
Box = tuple[float, float, float, float]  # xmin, x width, ymin, y width of the centre's draw area
TRIES = 100  # candidate positions per object
LAYOUT_TRIES = 10000  # whole-layout attempts (and single goal draws)
_SCALAR_TRIES = 4  # candidates checked one by one before the rest are checked as an array


class LayoutError(TaskError):
    """No valid layout (or goal position) after upstream's number of retries."""


class _Candidates:
    """Candidate centres for each draw area, from ``random_sample`` pairs fetched ahead of use."""

    def __init__(self, rng: np.random.RandomState, boxes: list[Box]):
        self.rng, self.boxes = rng, boxes
        self.state = rng.get_state()
        self.u = np.empty((0, 2))
        self.dropped = 0  # candidates consumed before u[0]
        self.chunk = 2048

    def need(self, start: int, n: int) -> int:
        """Make candidates ``start .. start + n`` available; returns the (possibly rebased) start."""
        if start + n <= len(self.u):
            return start
        more = self.rng.random_sample(2 * max(self.chunk, n)).reshape(-1, 2)
        self.chunk = 8192
        self.dropped += start
        self.u = np.concatenate([self.u[start:], more])
        self.ux, self.uy = self.u[:, 0].tolist(), self.u[:, 1].tolist()  # plain floats for one-by-one checks
        self.xa = [x0 + wx * self.u[:, 0] for x0, wx, _, _ in self.boxes]  # same arithmetic as uniform()
        self.ya = [y0 + wy * self.u[:, 1] for _, _, y0, wy in self.boxes]
        return 0

    def commit(self, used: int) -> None:
        """Rewind the generator and advance it by exactly the doubles consumed."""
        self.rng.set_state(self.state)
        total = self.dropped + used
        if total:
            self.rng.random_sample(2 * total)


class LayoutSampler:
    """Places the agent and every object of one task (positions only; no MuJoCo here)."""

    def __init__(self, cfg: NavTaskConfig):
        self.cfg = cfg
        # (name, rectangle or None for the whole extents, keepout), in placement order
        self.plan: list[tuple[str, Rect | None, float]] = [("agent", cfg.agent_placement, cfg.agent_keepout)]
        for kind in cfg.kinds:
            for i, name in enumerate(kind.names()):
                rect = None
                if i < len(kind.fixed_xy):
                    x, y = kind.fixed_xy[i]
                    k = kind.keepout + 1e-9
                    rect = (x - k, y - k, x + k, y + k)
                self.plan.append((name, rect, kind.keepout))
        self.keepout = {name: k for name, _, k in self.plan}
        self.rot_counts = [(kind.name, max(kind.count, 1)) for kind in cfg.kinds]
        boxes = [self._box(rect, k) for _, rect, k in self.plan]
        self.boxes = sorted(set(boxes))
        keys = [(self.boxes.index(b), k) for b, (_, _, k) in zip(boxes, self.plan, strict=True)]
        # (area, keepout, how many objects from this one on share both): the gremlins' 100-try windows
        # can then be checked against everything placed before them in one go
        self.objs = [(b, k, keys[i:].count((b, k))) for i, (b, k) in enumerate(keys)]

    def _box(self, rect: Rect | None, keepout: float) -> Box:
        xmin, ymin, xmax, ymax = rect if rect is not None else self.cfg.extents
        xmin, ymin, xmax, ymax = xmin + keepout, ymin + keepout, xmax - keepout, ymax - keepout
        if rect is not None and (xmin > xmax or ymin > ymax):
            raise LayoutError(f"{self.cfg.name}: a placement area is smaller than its keepout")
        return xmin, xmax - xmin, ymin, ymax - ymin

    def layout(self, rng: np.random.RandomState) -> dict[str, tuple[float, float]]:
        """Positions of the agent and every object (up to 10,000 whole-layout attempts)."""
        cand = _Candidates(rng, self.boxes)
        per_attempt = TRIES * len(self.objs)
        sqrt = math.sqrt
        c = 0  # next unused candidate
        try:
            for _ in range(LAYOUT_TRIES):
                c = cand.need(c, per_attempt)
                ux, uy = cand.ux, cand.uy
                placed: list[tuple[float, float, float]] = []  # x, y, keepout
                clear = _Clear(cand)
                for b, keepout, same_after in self.objs:
                    x0, wx, y0, wy = self.boxes[b]
                    j = -1
                    scalar = c if clear.covers(b, keepout, c + TRIES) else c + _SCALAR_TRIES
                    for t in range(c, scalar):  # most objects fit at once: plain floats
                        x, y = x0 + wx * ux[t], y0 + wy * uy[t]
                        for ox, oy, ok in placed:
                            if sqrt((x - ox) * (x - ox) + (y - oy) * (y - oy)) < ok + keepout:
                                break
                        else:
                            j = t
                            break
                    if j < 0:
                        j = clear.first(b, keepout, scalar, c + TRIES, placed, same_after)
                    if j < 0:
                        c += TRIES
                        break
                    placed.append((x0 + wx * ux[j], y0 + wy * uy[j], keepout))
                    c = j + 1
                else:
                    return {name: (x, y) for (name, _, _), (x, y, _) in zip(self.plan, placed, strict=True)}
        finally:
            cand.commit(c)
        raise LayoutError(f"{self.cfg.name}: failed to sample a layout")

    def rotations(self, rng: np.random.RandomState) -> tuple[float, dict[str, list[float]]]:
        """Agent heading, then one rotation per object, drawn in upstream's order."""
        agent = float(rng.uniform(0, 2 * np.pi))
        rots = {name: [float(rng.uniform(0, 2 * np.pi)) for _ in range(n)] for name, n in self.rot_counts}
        return agent, rots

    def goal(self, rng: np.random.RandomState, layout: dict[str, tuple[float, float]]) -> tuple[float, float]:
        """A new goal position clear of everything else in ``layout`` (which it updates); single draws."""
        layout.pop("goal", None)
        keepout = self.keepout["goal"]
        x0, wx, y0, wy = self._box(None, keepout)
        others = [(ox, oy, self.keepout[name] + keepout) for name, (ox, oy) in layout.items()]
        for _ in range(LAYOUT_TRIES):
            x, y = float(rng.uniform(x0, x0 + wx)), float(rng.uniform(y0, y0 + wy))
            if all(math.sqrt((x - ox) ** 2 + (y - oy) ** 2) >= k for ox, oy, k in others):
                layout["goal"] = (x, y)
                return x, y
        raise LayoutError(f"{self.cfg.name}: failed to place a new goal")


class _Clear:
    """Array checks of candidate windows, shared by later objects with the same area and keepout.

    Candidates of ``lo .. hi-1`` are tested against everything placed so far at once; an
    object further on with the same area and keepout reuses that (its window lies inside)
    and only checks the few survivors against what was placed since.
    """

    def __init__(self, cand: _Candidates):
        self.cand = cand
        self.key: tuple[int, float] | None = None

    def covers(self, b: int, keepout: float, hi: int) -> bool:
        """Whether the last array check already covers this object's window."""
        return self.key == (b, keepout) and hi <= self.end

    def first(self, b: int, keepout: float, lo: int, hi: int, placed: list[tuple[float, float, float]],
              same_after: int) -> int:
        """Index of the first of candidates ``lo .. hi-1`` clear of ``placed``, or -1."""
        if not placed:
            return lo
        if not self.covers(b, keepout, hi):
            self.key, self.start, self.n = (b, keepout), lo, len(placed)
            self.end = min(lo + TRIES * same_after, len(self.cand.u))
            p = np.array(placed)
            dx = self.cand.xa[b][lo:self.end, None] - p[:, 0]
            dy = self.cand.ya[b][lo:self.end, None] - p[:, 1]
            self.ok = (np.sqrt(dx * dx + dy * dy) >= p[:, 2] + keepout).all(axis=1)
        survivors = np.flatnonzero(self.ok[lo - self.start:hi - self.start]) + lo
        later = placed[self.n:]
        if not later:
            return int(survivors[0]) if len(survivors) else -1
        x0, wx, y0, wy = self.cand.boxes[b]
        ux, uy = self.cand.ux, self.cand.uy
        for t in survivors.tolist():
            x, y = x0 + wx * ux[t], y0 + wy * uy[t]
            if all(math.sqrt((x - ox) * (x - ox) + (y - oy) * (y - oy)) >= ok + keepout for ox, oy, ok in later):
                return t
        return -1
