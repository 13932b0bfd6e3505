"""Train an AID guidance module for a frozen backbone (samplers/aid.py, docs/aid.md).

    python tools/train/train_aid.py --backbone priorpaint-unet --iterations 1500 --out models/inpaint_guidance/x.safetensors
    torchrun --nproc_per_node 2 tools/train/train_aid.py ...        # data parallel (DDP, gloo on CPU / nccl on CUDA)

Backbones: ``priorpaint-unet`` (the demo model; data = random crops of the training photos and
texture regions, the held-out ones never seen; masks = the bench's four kinds, seeded) and
``exact-mixture`` (an exact Gaussian-mixture prior, data = its own samples; tests and the exact-prior
bench). The backbone is only ever called forward, under no_grad.

Every ``--checkpoint-every`` iterations a resumable checkpoint (actor, critic, Adam states, RNG; safetensors)
is written to ``--checkpoint`` (default under out/); ``--resume`` continues from it to the same result as an uninterrupted run.
Ctrl-C writes a checkpoint and stops. The module file's metadata pins the backbone (channels,
model_sampling, σ range, weight fingerprint), the time parameterisation and the training config.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(TOOLS, d) for d in ('lib',)]

SHAPE_EXACT = (3, 4, 4)


def backbone(name: str):
    """(MODEL, conditioning, data(batch, generator) -> (x*, hole), sigma_data)."""
    from priorpaint.samplers.maskgen import random_masks

    if name == "exact-mixture":
        from priorpaint.support.comfy_models import exact_prior_model
        from priorpaint.support.exact_priors import make_gaussian_mixture

        prior = make_gaussian_mixture(shape=SHAPE_EXACT, components=4, rank=3, seed=0, floor=0.3, comp_scale=0.35)
        model = exact_prior_model(prior, "eps")

        def data(b, g, crop):
            x = prior.sample(b, g).float().reshape(b, *SHAPE_EXACT)
            hole = torch.zeros(b, 1, 4, 4)
            for i in range(b):
                w = int(torch.randint(1, 4, (1,), generator=g))
                hole[i, ..., 4 - w:] = 1
            return x, hole

        return model, None, data, 1.0
    if name == "priorpaint-unet":
        from priorpaint.nodes.models import LoadDemoModel
        from priorpaint.support.photos import training_images
        from train_demo_model import build_pyramid, sample_batch

        model, _, cond = LoadDemoModel.execute("priorpaint-unet", "eps").args
        pyramids = {}

        def data(b, g, crop):
            if crop not in pyramids:
                pyramids[crop] = build_pyramid(training_images(), crop)
            x = sample_batch(pyramids[crop], b, crop, g)
            return x, random_masks("mixed", b, crop, crop, g)

        return model, cond, data, 0.5
    raise SystemExit(f"--backbone must be priorpaint-unet or exact-mixture, got {name!r}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="priorpaint-unet")
    ap.add_argument("--iterations", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=8, help="global batch (split across DDP processes)")
    ap.add_argument("--crop", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10, help="Euler steps per training rollout")
    ap.add_argument("--lr-actor", type=float, default=1e-3)
    ap.add_argument("--lr-critic", type=float, default=1e-3)
    ap.add_argument("--lam", type=float, default=0.1, help="λ: exploration variance 2λ/(βd)")
    ap.add_argument("--beta", type=float, default=1.0, help="β: running-cost weight")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--harmony-weight", type=float, default=0.0,
                    help="w: adds w·d·KL(known ‖ hole) colour-histogram harmony to the terminal cost (RGB backbones)")
    ap.add_argument("--moment-weight", type=float, default=0.0,
                    help="w: adds w·Σ_c n_hole·[(mean_c − mean*_c)² + (std_c − std*_c)²] over the hole to the terminal cost")
    ap.add_argument("--lowpass", type=int, default=1,
                    help="k: the terminal squared error compares k×k block means (texture is not rewarded for being flattened)")
    ap.add_argument("--context", action="store_true",
                    help="the module also sees the known region's per-channel mean/std (reaches inside large holes)")
    ap.add_argument("--td-lambda", type=float, default=0.0,
                    help="λ_TD of the actor's advantage (0 = the TD residual of §5.2, 1 = Monte-Carlo return)")
    ap.add_argument("--sigma-floor", type=float, default=0.0,
                    help="VE σ below which the module does not act (a coarse-only module; 0 = every step)")
    ap.add_argument("--no-antithetic", action="store_true", help="plain exploration (no ± pairs), for comparison")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    ap.add_argument("--checkpoint-every", type=int, default=100)
    ap.add_argument("--checkpoint", default=None,
                    help="checkpoint file (default: out/aid_checkpoints/<out name>.ckpt.safetensors)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--stop-after", type=int, default=None, help=argparse.SUPPRESS)  # tests: simulate an interrupt
    a = ap.parse_args(argv)

    import comfyenv

    comfyenv.comfy_setup()
    torch.set_flush_denormal(True)
    torch.set_num_threads(a.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if a.batch % world:
        raise SystemExit(f"--batch {a.batch} must be divisible by the {world} processes")

    from priorpaint.nodes.aid import backbone_info, ve_denoiser
    from priorpaint.samplers import aid as A

    with torch.inference_mode(False):
        model, cond, data, sigma_data = backbone(a.backbone)
        info = backbone_info(model)
        tp = A.TimeParam(max(info["sigma_min"], 0.002), min(info["sigma_max"], 80.0))
        ch = info["latent_channels"]
        torch.manual_seed(a.seed)
        actor = A.GuidanceNet(ch, width=a.width, sigma_data=sigma_data, context=a.context, sigma_floor=a.sigma_floor)
        critic = A.CriticNet(ch, width=a.width, sigma_data=sigma_data, context=a.context)
        g = torch.Generator().manual_seed(a.seed)
        cfg = A.AIDConfig(steps=a.steps, beta=a.beta, lam=a.lam, lr_actor=a.lr_actor, lr_critic=a.lr_critic,
                          antithetic=not a.no_antithetic, harmony_weight=a.harmony_weight,
                          moment_weight=a.moment_weight, lowpass=a.lowpass, td_lambda=a.td_lambda)
        ckpt = a.checkpoint or os.path.join(os.path.dirname(TOOLS), "out", "aid_checkpoints",
                                            os.path.splitext(os.path.basename(a.out))[0] + ".ckpt.safetensors")
        os.makedirs(os.path.dirname(ckpt), exist_ok=True)
        start, opt_state, log = 0, None, []
        if a.resume and os.path.isfile(ckpt):
            start, opt_state, extra = A.load_checkpoint(ckpt, actor, critic, g)
            log = extra.get("log", [])
            print(f"resumed at iteration {start}", flush=True)
        actor_train, critic_train, shard = actor, critic, None
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            actor_train, critic_train = DDP(actor), DDP(critic)
            per = a.batch // world
            shard = slice(rank * per, (rank + 1) * per)
        denoise = ve_denoiser(model, cond)
        t0 = time.time()
        stop = {"at": a.stop_after}

        def batches():
            while True:
                yield data(a.batch, g, a.crop)

        last = {}

        def on_iteration(it, stats, opt):
            log.append(dict(stats, iteration=it, seconds=round(time.time() - t0, 2)))
            done = it + 1
            last.update(done=done, opt=opt)
            if rank == 0 and (done % 20 == 0 or done == a.iterations):
                print(f"it {done}/{a.iterations}  Ψ {stats['psi']:.4f}  running {stats['running']:.4f}  "
                      f"|δ| {stats['td']:.4f}  {time.time() - t0:.0f}s", flush=True)
            if rank == 0 and (done % a.checkpoint_every == 0 or done == stop["at"]):
                A.save_checkpoint(ckpt, actor, critic, opt, done, g, {"log": log})
            if stop["at"] is not None and done >= stop["at"]:
                raise KeyboardInterrupt

        try:
            A.train(denoise, actor, critic, tp, batches(), a.iterations, cfg, g, start=start, opt_state=opt_state,
                    on_iteration=on_iteration, actor_train=actor_train, critic_train=critic_train, shard=shard)
        except KeyboardInterrupt:
            if rank == 0 and last and last["done"] != stop["at"]:  # Ctrl-C between checkpoints
                A.save_checkpoint(ckpt, actor, critic, last["opt"], last["done"], g, {"log": log})
            print(f"interrupted: checkpoint written to {ckpt}, rerun with --resume", flush=True)
            return 1
        if rank == 0:
            os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
            training = {"backbone": a.backbone, "iterations": a.iterations, "batch": a.batch, "crop": a.crop,
                        "steps": a.steps, "lr_actor": a.lr_actor, "lr_critic": a.lr_critic, "lam": a.lam,
                        "beta": a.beta, "seed": a.seed, "processes": world, "antithetic": not a.no_antithetic,
                        "td_lambda": a.td_lambda, "sigma_floor": a.sigma_floor,
                        **cfg.terminal(), "context": a.context, "terminal_cost": A.terminal_cost_name(**cfg.terminal()),
                        "minutes": round((time.time() - t0) / 60, 2)}
            A.save_module(a.out, actor, A.module_metadata(actor, info, tp, training))
            with open(os.path.splitext(a.out)[0] + ".log.json", "w") as f:
                json.dump({"training": training, "params": A.parameter_count(actor), "log": log}, f)
            print(f"wrote {a.out} ({A.parameter_count(actor)} params) in {(time.time() - t0) / 60:.1f} min", flush=True)
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
