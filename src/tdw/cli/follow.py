"""Following a job from the terminal: a progress bar until it finishes, Ctrl-C cancels it."""

from __future__ import annotations

import sys
import time

from tdw.cli.format import duration
from tdw.jobs import jobs as jobs_mod
from tdw.store.store import Store

__all__ = ["follow"]


def follow(store: Store, job_id: int, unit: str = "epoch") -> int:
    """Show job ``job_id``'s progress until it finishes; its exit status: 0 when it
    succeeded, 1 when it failed or was cancelled (the error and notebook are printed), 130
    when the user interrupted (the job is cancelled)."""
    from tqdm import tqdm

    bar = None
    try:
        while True:
            jobs_mod.reconcile(store)
            rec = jobs_mod.job(store, job_id)
            if rec.total and bar is None:
                bar = tqdm(total=rec.total, initial=rec.progress, unit=unit, dynamic_ncols=True)
            if bar is not None:
                bar.update(rec.progress - bar.n)
            if rec.state in jobs_mod.FINISHED:
                break
            time.sleep(0.25)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(f"\ninterrupted: cancelling job {job_id} (its checkpoints are kept; train again "
              "to resume)", file=sys.stderr)
        jobs_mod.cancel(store, job_id)
        return 130
    if bar is not None:
        bar.close()
    if rec.state == "succeeded":
        print(f"job {job_id} succeeded in {duration((rec.finished or 0) - (rec.started or 0))}")
        return 0
    print(f"tdw: job {job_id} {rec.state}: {rec.error}\n  notebook: "
          f"{store.path(rec.notebook) if rec.notebook else '-'}", file=sys.stderr)
    return 1
