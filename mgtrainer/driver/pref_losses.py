"""Reference-free preference losses (ORPO, SimPO), one documented function each.

Inputs are per-sequence *mean* log-probabilities of the completion tokens under the policy,
`chosen` and `rejected` (shape [batch]); both losses return (loss per pair, chosen reward, rejected
reward) so that reward accuracy and margin are logged like DPO's.
"""

from __future__ import annotations


def orpo_loss(chosen, rejected, beta: float):
    """ORPO (Hong et al. 2024): -beta * log sigmoid(log odds(chosen) - log odds(rejected)), with
    odds(p) = p / (1 - p) of the mean token probability. The SFT term (NLL of chosen) is added by the
    caller. Rewards: beta * mean log-prob."""
    import torch
    import torch.nn.functional as F

    def log_odds(logp):
        return logp - torch.log1p(-torch.exp(logp).clamp(max=1 - 1e-6))

    ratio = F.logsigmoid(log_odds(chosen) - log_odds(rejected))
    return -beta * ratio, beta * chosen.detach(), beta * rejected.detach()


def simpo_loss(chosen, rejected, beta: float, gamma: float):
    """SimPO (Meng et al. 2024): -log sigmoid(beta * (mean logp chosen - mean logp rejected) - gamma),
    a length-normalised, reference-free DPO with a target margin gamma. Rewards: beta * mean log-prob."""
    import torch.nn.functional as F

    loss = -F.logsigmoid(beta * (chosen - rejected) - gamma)
    return loss, beta * chosen.detach(), beta * rejected.detach()
