"""A TrainerCallback that turns the Trainer's progress into the run's events.

It writes one ``step`` event per logging step (loss, learning rate, grad norm,
tokens per second, progress, ETA), one ``eval`` event per evaluation during
training, one ``checkpoint`` event per save, stops
training cleanly when the run is cancelled, fails fast on a NaN loss, and on a
CPU trains with one thread while the playground computes.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from transformers import TrainerCallback

from engine.cpu_share import PLAYGROUND_LOCK, ThreadShare
from engine.runs import Run
from engine.runs.events import DURING, CheckpointEvent, EvalEvent, EvalFigures, StepEvent, count, finite
from engine.train.failure import TrainingFailed
from engine.train.ranks import agreed_stop
from engine.words import counted


class EventsCallback(TrainerCallback):
    def __init__(self, run: Run, stop: threading.Event) -> None:
        self.run = run
        self.stop = stop
        self.start_time = 0.0
        self.start_step = 0
        self.start_tokens = 0
        self.loss_curve: list[tuple[int, float]] = []
        #: One CPU thread while the playground computes on this machine (see ``engine.cpu_share``).
        self.cpu = ThreadShare(PLAYGROUND_LOCK)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.start_time = time.time()
        self.start_step = state.global_step
        self.start_tokens = state.num_input_tokens_seen
        self.run.log(f"training: {counted(state.max_steps, 'step')}, from step {state.global_step}")

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if args.device.type == "cpu":
            self.cpu.update()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if agreed_stop(self.stop):  # every rank of a distributed run stops at the same step
            control.should_save = True
            control.should_training_stop = True

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        logs = logs or {}
        if "loss" not in logs:
            return
        loss = float(logs["loss"])
        step = state.global_step
        if not math.isfinite(loss):
            raise TrainingFailed(
                f"the loss became {loss} at step {step}: training diverged; try a lower learning rate (train.lr)"
            )
        elapsed = time.time() - self.start_time
        done = step - self.start_step
        tokens = state.num_input_tokens_seen - self.start_tokens
        eta = elapsed / done * (state.max_steps - step) if done > 0 else None
        self.loss_curve.append((step, loss))
        self.run.append(
            StepEvent(
                step=step,
                max_steps=state.max_steps,
                epoch=finite({"v": state.epoch}, "v"),
                loss=loss,
                lr=finite(logs, "learning_rate"),
                grad_norm=finite(logs, "grad_norm"),
                tokens_per_s=tokens / elapsed if elapsed > 0 else None,
                tokens_seen=state.num_input_tokens_seen,
                progress=step / state.max_steps if state.max_steps else None,
                elapsed_s=elapsed,
                eta_s=eta,
            )
        )

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None, **kwargs: Any) -> None:
        metrics = metrics or {}
        figures = EvalFigures(finite(metrics, "eval_loss"), finite(metrics, "eval_accuracy"), count(metrics, "eval_tokens"))
        self.run.append(EvalEvent(which=DURING, figures=figures, step=state.global_step))

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.run.append(CheckpointEvent(step=state.global_step, path=f"checkpoints/checkpoint-{state.global_step}"))
