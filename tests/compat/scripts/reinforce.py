#!/usr/bin/env python
# ruff: noqa: B007 - written the way the original example is (the loop variable is read after the loop)
"""REINFORCE on a tiny corridor world (after pytorch/examples/reinforcement_learning/reinforce.py).

Idioms: torch.distributions.Categorical, saved log-probs, discounted returns normalised with
np.finfo(np.float32).eps.item(), torch.cat(policy_loss).sum(), torch.from_numpy(state).float().
"""

from __future__ import annotations

import argparse
from itertools import count

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical


class Corridor:
    """Walk from cell 0 to cell n-1 (actions: 0 = left, 1 = right); reward 1 at the end."""

    def __init__(self, n=6, max_steps=30, seed=0):
        self.n, self.max_steps = n, max_steps
        self.rs = np.random.RandomState(seed)

    def reset(self):
        self.pos, self.t = 0, 0
        return self._obs()

    def _obs(self):
        s = np.zeros(self.n, dtype=np.float64)
        s[self.pos] = 1.0
        return s

    def step(self, action):
        self.t += 1
        self.pos = min(self.n - 1, self.pos + 1) if action == 1 else max(0, self.pos - 1)
        done = self.pos == self.n - 1 or self.t >= self.max_steps
        reward = 1.0 if self.pos == self.n - 1 else -0.01
        return self._obs(), reward, done


class Policy(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.affine1 = nn.Linear(n, 32)
        self.dropout = nn.Dropout(p=0.1)
        self.affine2 = nn.Linear(32, 2)
        self.saved_log_probs = []
        self.rewards = []

    def forward(self, x):
        x = self.affine1(x)
        x = self.dropout(x)
        x = F.relu(x)
        action_scores = self.affine2(x)
        return F.softmax(action_scores, dim=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description="REINFORCE example")
    parser.add_argument("--gamma", type=float, default=0.99, metavar="G")
    parser.add_argument("--seed", type=int, default=543, metavar="N")
    parser.add_argument("--episodes", type=int, default=150)
    parser.add_argument("--log-interval", type=int, default=25, metavar="N")
    args = parser.parse_args(argv)

    env = Corridor(seed=args.seed)
    torch.manual_seed(args.seed)
    policy = Policy(env.n)
    optimizer = optim.Adam(policy.parameters(), lr=1e-2)
    eps = np.finfo(np.float32).eps.item()

    def select_action(state):
        state = torch.from_numpy(state).float().unsqueeze(0)
        probs = policy(state)
        m = Categorical(probs)
        action = m.sample()
        policy.saved_log_probs.append(m.log_prob(action))
        return action.item()

    def finish_episode():
        R = 0
        policy_loss = []
        returns = []
        for r in policy.rewards[::-1]:
            R = r + args.gamma * R
            returns.insert(0, R)
        returns = torch.tensor(returns)
        if len(returns) > 1:
            returns = (returns - returns.mean()) / (returns.std() + eps)
        for log_prob, R in zip(policy.saved_log_probs, returns):
            policy_loss.append(-log_prob * R)
        optimizer.zero_grad()
        policy_loss = torch.cat(policy_loss).sum()
        policy_loss.backward()
        optimizer.step()
        del policy.rewards[:]
        del policy.saved_log_probs[:]

    lengths = []
    running_reward = 0
    for i_episode in count(1):
        state, ep_reward = env.reset(), 0
        for t in range(1, 10000):
            action = select_action(state)
            state, reward, done = env.step(action)
            policy.rewards.append(reward)
            ep_reward += reward
            if done:
                break
        lengths.append(t)
        running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
        finish_episode()
        if i_episode % args.log_interval == 0:
            print(f"Episode {i_episode}\tLast length: {t:5d}\tAverage reward: {running_reward:.2f}")
        if i_episode >= args.episodes:
            break
    return {
        "first_lengths": float(np.mean(lengths[:20])),
        "last_lengths": float(np.mean(lengths[-20:])),
    }


if __name__ == "__main__":
    main()
