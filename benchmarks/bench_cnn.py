"""Benchmark: CNN training throughput and flow sampling time (issue #4).

Measures, in one run, the training throughput (samples/s, forward + backward + Adam step
with augmentation) of the profile's CNN and of the paper's wider CNN (16/32 channels, 128
hidden) as the baseline, and the time to draw 1000 posterior samples for 500 inputs from a
flow of the profile's size; then estimates the profile's CNN training time from the number
of training projections in its dataset (when built) and its epoch budget.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def _throughput(map_size: int, cfg, n_batches: int = 12) -> float:
    from galmass.inference.cnn import MassCNN, augment_position_maps

    torch.set_num_threads(cfg.num_threads or torch.get_num_threads())
    net = MassCNN(map_size, cfg)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    b = cfg.batch_size
    m1, m2 = torch.rand(b, 1, map_size, map_size), torch.rand(b, 1, map_size, map_size)
    s, y = torch.randn(b, 3), torch.randn(b, 10)
    gen = torch.Generator().manual_seed(0)
    for i in range(n_batches + 2):
        if i == 2:
            t0 = time.perf_counter()
        loss = ((net(augment_position_maps(m1, gen), m2, s) - y) ** 2).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    return n_batches * b / (time.perf_counter() - t0)


def main(config: str = "configs/default.yaml") -> dict:
    from galmass.inference.cnn import CNNConfig
    from galmass.config import load_config
    from galmass.inference.flow import FlowConfig, sample_posterior, train_flow
    from galmass.inference.training import run_settings

    cfg = load_config(config)
    st = run_settings(cfg)
    S = cfg.dataset.map_size
    ours = _throughput(S, st.cnn)
    paper = _throughput(S, CNNConfig(channels=(16, 32), hidden=128))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 32)).astype(np.float32)
    th = (x[:, :10] + 0.1 * rng.normal(size=(600, 10))).astype(np.float32)
    net, _ = train_flow(th[:500], x[:500], th[500:], x[500:], FlowConfig(max_epochs=1), progress=False)
    t0 = time.perf_counter()
    s = sample_posterior(net, x[:500], 1000)
    t_sample = time.perf_counter() - t0
    res = {"map_size": S, "samples_per_s": ours, "paper_width_samples_per_s": paper,
           "speedup_vs_paper_width": ours / paper, "flow_sample_1000x500_s": t_sample}
    try:
        from galmass.dataset import load_arrays
        n_train = sum(len(load_arrays(cfg.dataset_dir, suites=suites, split="train")["row"])
                      for suites in st.models.values())
        res["estimated_cnn_minutes_all_models"] = n_train * st.cnn.max_epochs / ours / 60
    except Exception as exc:  # dataset not built: no estimate
        res["estimated_cnn_minutes_all_models"] = None
        print(f"(no dataset for {config}: {exc})")
    print(f"\nCNN training throughput at {S}x{S} ({config}), {torch.get_num_threads()} threads")
    print(f"  profile CNN {st.cnn.channels} hidden {st.cnn.hidden}: {ours:8.0f} samples/s")
    print(f"  paper-width CNN (16, 32) hidden 128 : {paper:8.0f} samples/s   ratio {ours / paper:.2f}x")
    print(f"flow: 1000 samples for 500 inputs in {t_sample:.1f} s (shape {s.shape})")
    if res["estimated_cnn_minutes_all_models"] is not None:
        print(f"estimated CNN training, all models, {st.cnn.max_epochs} epochs max: "
              f"{res['estimated_cnn_minutes_all_models']:.1f} min (target: CNN + flow < 30 min per model)")
    return res


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", default="configs/default.yaml")
    main(p.parse_args().config)
