"""Data-parallel training of the course's GPT: the same script on 1 process, 2 CPU processes,
several GPUs or several machines (see d2lt/distributed.py for the details).

    python scripts/train_ddp.py                                                # 1 process
    python -m torch.distributed.run --nproc-per-node 2 scripts/train_ddp.py    # 2 CPU processes (gloo)
    torchrun --nproc-per-node 8 scripts/train_ddp.py --amp                     # 8 GPUs (NCCL, bf16)
    torchrun --nnodes 2 --node-rank R --master-addr HOST --master-port 29500 \\
             --nproc-per-node 8 scripts/train_ddp.py --amp                     # on each of 2 machines

    --checkpoint run.pt --save-every 10   saves atomically; the same command again resumes
"""
import sys

from d2lt.distributed import main

if __name__ == "__main__":
    sys.exit(main())
