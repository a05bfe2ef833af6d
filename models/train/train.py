"""Training: class-weighted cross entropy, augmented batches in a fixed order,
early stopping on the validation split's loss. Deterministic given the seed
(one thread, deterministic algorithms, one numpy Generator for augmentation
and order)."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from data import FLATTEN_LIGHT, Augmenter, DataSet, preprocess
from model import Net


@dataclass
class Config:
    size: int = 112
    widths: tuple[int, ...] = (8, 16, 32, 48, 64, 64)
    pool: str = "stride"
    asymmetry: bool = False
    augment: str = "light"
    aux_weight: float = 20.0
    mouth_weight: float = 0.0
    stop_on: str = "auc"
    epochs: int = 80
    patience: int = 25
    batch: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    consistency: float = 0.0
    flatten_radius: int = FLATTEN_LIGHT["radius"]
    seed: int = 1


def determinism(seed: int) -> None:
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def twin_groups(ds: DataSet, tr: np.ndarray) -> list[list[int]]:
    """The training rows grouped by (patient, expression): twins are photos
    of the same patient and expression from different sessions (another
    room, light, camera)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i in tr:
        r = ds.rows[i]
        groups.setdefault((r.patient_id, r.expression), []).append(int(i))
    return list(groups.values())


def twin_order(groups: list[list[int]], rng: np.random.Generator) -> np.ndarray:
    """One epoch's order, in pairs of twins [a0, b0, a1, b1, ...]. Pairs come
    in random order; a row without a twin is paired with itself, so the pair
    differs only by augmentation."""
    pairs = []
    for members in groups:
        members = list(rng.permutation(members))
        if len(members) % 2:
            members.append(members[-1])
        pairs += [members[k : k + 2] for k in range(0, len(members), 2)]
    return np.array([pairs[k] for k in rng.permutation(len(pairs))], dtype=np.int64).reshape(-1)


def predict(net: Net, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """Softmax probability of synkinesis for preprocessed inputs."""
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = net(torch.from_numpy(x[i : i + batch]))
            out.append(torch.softmax(logits, dim=1)[:, 1].numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def train(ds: DataSet, mean, std, cfg: Config, log=print) -> tuple[Net, dict]:
    """Trains on the train split, early-stops on validation; returns the best
    net (by validation loss) and a short history."""
    determinism(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    aug = Augmenter(cfg.seed + 1, cfg.augment)
    tr, va = ds.indices("train"), ds.indices("validation")
    y = ds.labels()
    asym = ds.eye_asymmetry()
    tilt = ds.mouth_asymmetry()
    if cfg.mouth_weight > 0 and not np.isfinite(tilt[tr]).any():
        raise ValueError("--mouth-weight needs the mouth_tilt_truth column in index.csv")
    mse = nn.MSELoss()
    pos = max(int(y[tr].sum()), 1)
    neg = max(len(tr) - pos, 1)
    # Balanced: each class carries half of the loss.
    weights = torch.tensor([len(tr) / (2 * neg), len(tr) / (2 * pos)], dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=weights)

    net = Net(list(cfg.widths), cfg.pool, cfg.asymmetry, mouth_head=cfg.mouth_weight > 0)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * ((len(tr) + cfg.batch - 1) // cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.15)

    xva = preprocess(ds.images[va], cfg.size, mean, std)
    yva = torch.from_numpy(y[va])
    twins = twin_groups(ds, tr) if cfg.consistency > 0 else []
    best, best_loss, best_epoch, waited = None, float("inf"), -1, 0
    history = []
    for epoch in range(cfg.epochs):
        t0 = time.time()
        net.train()
        order = twin_order(twins, rng) if twins else rng.permutation(tr)
        total = 0.0
        for i in range(0, len(order), cfg.batch):
            idx = order[i : i + cfg.batch]
            views = np.stack([aug(ds.images[j]) for j in idx])
            xb = torch.from_numpy(preprocess(views, cfg.size, mean, std))
            yb = torch.from_numpy(y[idx])
            opt.zero_grad()
            pooled = net.pooled(xb)
            logits = net.fc(pooled)
            loss = loss_fn(logits, yb)
            if cfg.consistency > 0:
                # Twins (same patient and expression, another session) must
                # get the same probability: the scene is not evidence. On
                # probabilities, so two confident answers on the same side
                # cost nothing and only disagreement is penalised.
                prob = torch.softmax(logits, 1)[:, 1]
                n = len(idx) // 2 * 2
                loss = loss + cfg.consistency * torch.mean((prob[0:n:2] - prob[1:n:2]) ** 2)
            known = np.isfinite(asym[idx])
            if cfg.aux_weight > 0 and known.any():
                # Multi-task: the eyelid asymmetry is the sign that matters, so
                # make the features measure it (mirroring leaves |log| unchanged).
                target = torch.from_numpy(asym[idx][known])
                pred = net.aux(pooled[torch.from_numpy(known)]).squeeze(1)
                loss = loss + cfg.aux_weight * mse(pred, target)
            if cfg.mouth_weight > 0 and np.isfinite(tilt[idx]).any():
                # The oral sign (a mouth corner pulled up when the eye closes)
                # as geometry, so side light cannot stand in for it.
                have = np.isfinite(tilt[idx])
                target = torch.from_numpy(tilt[idx][have])
                pred = net.aux_mouth(pooled[torch.from_numpy(have)]).squeeze(1)
                loss = loss + cfg.mouth_weight * mse(pred, target)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        net.eval()
        with torch.no_grad():
            logits = torch.cat([net(torch.from_numpy(xva[i : i + 256])) for i in range(0, len(xva), 256)])
            vloss = float(loss_fn(logits, yva))
            p = torch.softmax(logits, 1)[:, 1].numpy()
        vauc = float(roc_auc_score(y[va], p)) if 0 < y[va].sum() < len(va) else float("nan")
        history.append({"epoch": epoch, "train_loss": total / len(tr), "val_loss": vloss, "val_auc": vauc})
        log(f"epoch {epoch:3d} train {total / len(tr):.4f} val {vloss:.4f} auc {vauc:.4f} ({time.time() - t0:.1f} s)")
        # Lower is better for both criteria.
        score = vloss if cfg.stop_on == "loss" else -vauc
        if score < best_loss - 1e-4:
            best, best_loss, best_epoch, waited = copy.deepcopy(net.state_dict()), score, epoch, 0
        else:
            waited += 1
            if waited >= cfg.patience:
                log(f"early stop at epoch {epoch}; best epoch {best_epoch}")
                break
    net.load_state_dict(best)
    net.eval()
    best_val = {"loss": best_loss} if cfg.stop_on == "loss" else {"auc": -best_loss}
    return net, {"best_epoch": best_epoch, "stop_on": cfg.stop_on, "best_validation": best_val,
                 "epochs_run": len(history), "history": history}
