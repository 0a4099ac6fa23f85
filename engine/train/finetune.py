"""One QLoRA fine-tune, start to scorecard, inside the run's own process.

The flow follows litgpt's: load data and model, score the baseline, fit with
transformers' Trainer, score the custom model, save the adapter and the
scorecard. Everything it learns goes to the run folder as it happens.
"""

from __future__ import annotations

import os
import resource
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from engine import gpu
from engine.data import DataSpec
from engine.files import write_json_atomic
from engine.runs import Run
from engine.runs.events import EvalEvent, EvalFigures, PhaseEvent, Scorecard, StepEvent, TrainFigures
from engine.train import dataset, oom, ranks, templates
from engine.train.packing import PackedCollator
from engine.train.samples import make_samples
from engine.train.scorecard import eval_curve, evaluate
from engine.train.tokenize import Encoded
from engine.words import counted

#: The steps of a run, in order; each is announced with a ``phase`` event.
PHASES = ("loading", "baseline", "training", "custom", "saving")
#: Test hook: a phase name here makes the worker stop and wait at that phase
#: (after announcing it) until it is killed or cancelled, so a test can kill
#: or cancel it exactly there.
PAUSE_ENV = "FINETUI_TEST_PAUSE_AT"


def _phase(run: Run, name: str, stop: threading.Event | None = None) -> None:
    """Record that the run entered ``name``; wait there when a test asked to (``PAUSE_ENV``), until killed or ``stop`` is set."""
    run.append(PhaseEvent(phase=name))
    if os.environ.get(PAUSE_ENV) == name:
        while stop is None:
            time.sleep(3600)
        while not stop.wait(0.5):
            pass


def _baseline_from_events(run: Run) -> EvalFigures | None:
    """The baseline scored before an interrupted attempt: the base model has not changed since."""
    for _, event in run.events():
        if isinstance(event, EvalEvent) and event.which == "baseline":
            return event.figures
    return None  # none, or a damaged record (an UnreadableEvent): score the baseline again


def _peak_memory_bytes(torch: Any) -> int:
    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


@dataclass
class Session:
    """Everything set up for training: the adapted model, its data and the baseline score."""

    run: Run
    model: Any
    tokenizer: Any
    rows: Sequence[Any]
    """The packed training rows (``engine.train.packing.PackedRows``), put together as the Trainer asks for them."""
    encoded_eval: Sequence[Encoded]
    """The eval split's sequences, mapped from the run folder (``engine.train.sequences``)."""
    pad_id: int
    baseline: EvalFigures
    checkpointing: bool
    train_examples: int
    started: float
    eval_examples: list[Any] = field(default_factory=list)
    """The first ``train.samples`` held-out examples themselves, for the samples generated after training."""
    template: templates.RunTemplate | None = None
    """The chat template the run trains with (``engine.train.templates``), saved with the adapter."""


def _one_kernel_for_training(model: Any) -> None:
    """Keep bitsandbytes from repacking 4-bit weights for its CPU inference kernel.

    On CPUs with AVX512-BF16, a 4-bit layer run in eval mode repacks its
    weights for a faster kernel that has no backward: after the baseline eval,
    gradients through the base layers would be silently wrong, and baseline and
    custom would be scored by different kernels. Training keeps one kernel.
    """
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def prepare(run: Run, resume: bool = False) -> Session:
    """Load data and model, add the LoRA adapter, and score the baseline (adapter off).

    The data is read before peft and transformers are imported (about 10 s on
    a small CPU), so a bad data file fails the run at once.
    """
    started = time.time()
    cfg = run.config()
    spec = DataSpec(cfg.data.path, format=cfg.data.format, separator=cfg.data.separator, mapping=cfg.data.mapping)
    split = dataset.read_split(spec, cfg.data.eval_fraction, cfg.train.seed)
    run.log(f"data: {split.train_examples} train and {split.eval_examples} eval examples from {cfg.data.path}")

    if not split.eval_examples:
        from engine.runs.lifecycle import NoEvalSplit

        raise NoEvalSplit(f"{cfg.data.path}: no example is left for the eval split, so the run could not be scored")
    _phase(run, "loading")
    run.log(f"loading {cfg.model.name} ({cfg.model.quant})")
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import set_seed

    from engine.models import load_model
    from engine.models.families import lora_targets

    choices = gpu.choose(gpu.probe(), cfg)
    run.log(f"device: {choices.describe()}")
    model, tokenizer = load_model(cfg.model.name, quant=cfg.model.quant, trust_remote_code=cfg.model.trust_remote_code, device=ranks.rank_device(),
                                  sharded=ranks.sharded(cfg), dtype=choices.dtype_name, attention=choices.attention)
    _one_kernel_for_training(model)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    seq_len = min(cfg.train.seq_len, getattr(model.config, "max_position_embeddings", cfg.train.seq_len))
    template = templates.resolve(cfg.data.chat_template, set(split.kinds), tokenizer)
    if ranks.is_main():
        templates.record(run.config_path, template)
    run.log(f"chat template: {template.describe()}")
    tokens = dataset.tokenize_split(spec, split, template, tokenizer, seq_len, folder=run.dir, keep_held=cfg.train.samples)
    rows = dataset.train_rows(tokens.train, seq_len, cfg.train.packing)
    run.log(f"{counted(tokens.train.tokens, 'train token')} in {counted(len(rows), 'sequence')} of up to {seq_len} tokens")

    checkpointing = choices.checkpointing
    if cfg.model.quant != "none":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=checkpointing, gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False  # a cache would hide the packed-sequence boundaries from the mask
    set_seed(cfg.train.seed)
    lora = LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=lora_targets(model),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    trainable, total = model.get_nb_trainable_parameters()
    run.log(f"LoRA r={cfg.lora.r}: {trainable:,} trainable of {total:,} parameters")

    baseline = _baseline_from_events(run) if resume else None
    if baseline is None and not ranks.is_main():
        baseline = EvalFigures(None, None, 0)  # rank 0 alone scores and records the baseline
    if baseline is None:
        _phase(run, "baseline")
        run.log("scoring the baseline (adapter off) on the eval split")
        with model.disable_adapter():
            baseline = evaluate(model, tokens.held, pad_id)
        run.append(EvalEvent(which="baseline", figures=baseline))
    return Session(run, model, tokenizer, rows, tokens.held, pad_id, baseline, checkpointing, split.train_examples, started, tokens.first_held, template)


def fit(session: Session, stop: threading.Event, resume: bool = False) -> str:
    """Train with the Trainer, then score the custom model and save adapter and scorecard.

    Returns the run's final state, ``ready`` or ``cancelled``.
    """
    import torch
    from transformers import TrainingArguments

    from engine.train.callback import EventsCallback
    from engine.train.eval_steps import EvalPlan, ScoringTrainer, outcome, score_base_on_sample

    run, cfg = session.run, session.run.config()
    on_gpu = torch.cuda.is_available()
    plan = EvalPlan.make(cfg.train, len(session.rows), session.encoded_eval)
    args = TrainingArguments(
        output_dir=str(run.checkpoints_dir),
        num_train_epochs=cfg.train.epochs,
        max_steps=cfg.train.max_steps or -1,
        learning_rate=cfg.train.lr,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        per_device_train_batch_size=cfg.train.batch_size,
        gradient_accumulation_steps=cfg.train.grad_accum,
        logging_steps=cfg.train.logging_steps,
        save_total_limit=2,
        **plan.arguments(),
        seed=cfg.train.seed,
        data_seed=cfg.train.seed,
        **gpu.choose(gpu.probe(), cfg).trainer_args(),
        use_cpu=not on_gpu,
        report_to=cfg.train.report_to,
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_pin_memory=on_gpu,
        include_num_input_tokens_seen="non_padding",
        **ranks.trainer_arguments(cfg, ranks.world_size()),
    )
    trainer = ScoringTrainer(
        model=session.model,
        args=args,
        train_dataset=session.rows,
        data_collator=PackedCollator(session.pad_id, flatten=gpu.choose(gpu.probe(), cfg).flatten_packed),
        processing_class=session.tokenizer,
        callbacks=[EventsCallback(run, stop), *plan.callbacks()],
        eval_rows=plan.sample,
        pad_id=session.pad_id,
    )
    checkpoint = run.last_checkpoint() if resume else None
    if checkpoint is not None:
        run.log(f"resuming from {checkpoint.name}")
    else:
        score_base_on_sample(run, session.model, plan, session.encoded_eval, session.pad_id, session.baseline)
    run.log(plan.describe())
    _phase(run, "training")
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except Exception as exc:
        if oom.is_cuda_oom(exc):
            raise oom.GpuOutOfMemory(oom.advise_oom(cfg, exc)) from exc
        raise
    if stop.is_set():
        run.log(f"cancelled at step {trainer.state.global_step}; checkpoint saved")
        return "cancelled"
    if not ranks.is_main():
        return "ready"  # rank 0 alone scores the custom model and saves the adapter and scorecard
    decided = outcome(trainer, plan, cancelled=False)
    if decided.stop_reason:
        run.log(decided.stop_reason)
    if decided.kept_step is not None:
        run.log(f"kept the checkpoint of step {decided.kept_step}, the best eval loss")

    # A cancel from here on stops before the adapter is saved: training is done and its last
    # checkpoint is on disk, so resuming only scores the custom model, writes samples and saves.
    _phase(run, "custom", stop)
    if stop.is_set():
        return _cancelled_after_training(run, trainer.state.global_step)
    run.log("scoring the custom model (adapter on) on the eval split")
    custom = evaluate(session.model, session.encoded_eval, session.pad_id)
    if stop.is_set():
        return _cancelled_after_training(run, trainer.state.global_step)
    run.append(EvalEvent(which="custom", figures=custom))
    rates = make_samples(run, session.model, session.tokenizer, session.eval_examples, cfg, stop.is_set)
    if stop.is_set():
        return _cancelled_after_training(run, trainer.state.global_step)
    _phase(run, "saving")
    _save_adapter(session.model, run, session.template)
    tokens = trainer.state.num_input_tokens_seen
    train_time = sum(e.elapsed_s or 0.0 for e in _last_step_per_attempt(run))
    train_figures = TrainFigures(
        loss_curve=tuple(_loss_curve(run)),
        steps=trainer.state.global_step,
        tokens=tokens,
        wall_time_s=time.time() - session.started,
        train_time_s=train_time,
        tokens_per_s=tokens / train_time if train_time > 0 else None,
        peak_memory_bytes=_peak_memory_bytes(torch),
        peak_memory_per_gpu=gpu.peak_memory_per_gpu(),
        device=torch.cuda.get_device_name(0) if on_gpu else "cpu",
        train_examples=session.train_examples,
        eval_examples=len(session.encoded_eval),
        eval_curve=tuple(eval_curve(run)),
        kept_step=decided.kept_step,
        stop_reason=decided.stop_reason,
    )
    card = Scorecard(session.baseline, custom, train_figures, samples=rates)
    write_json_atomic(run.metrics_path, card.to_json())
    return "ready"


def _save_adapter(model: Any, run: Run, template: templates.RunTemplate | None = None) -> None:
    """Write the adapter (safetensors) and the chat template it trained with beside its final place, then move it there.

    A kill or a full disk mid-save leaves a partial folder under a hidden
    name, never an ``adapter/`` that looks whole.
    """
    import shutil

    partial = run.dir / ".adapter-partial"
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(str(partial), safe_serialization=True)
    if template is not None:
        templates.save(partial, template)
    shutil.rmtree(run.adapter_dir, ignore_errors=True)
    partial.rename(run.adapter_dir)


def _cancelled_after_training(run: Run, step: int) -> str:
    run.log(f"cancelled after training, at step {step}; its checkpoint is saved, and resuming scores the custom model and saves the adapter")
    return "cancelled"


class _CancelledNow(BaseException):
    """A cancel that arrived while the model loaded or the baseline was scored.

    A ``BaseException``, as ``KeyboardInterrupt`` is, so that no ``except Exception`` on the way (a loader's
    fallback, our own error wrapping) turns it into a failure.
    """


@contextmanager
def _cancel_stops_at_once(stop: threading.Event) -> Iterator[None]:
    """While the block runs, a cancel (SIGTERM, SIGINT, SIGHUP) raises ``_CancelledNow`` where the process is.

    Loading a model (a download, or gigabytes from disk) and scoring the
    baseline can take minutes, and nothing needs saving before training
    starts, so a cancel there need not wait for them. Only a process that
    trains alone, in its main thread, gets this: the ranks of a distributed
    run stop together (``ranks.agreed_stop``), and signal handlers
    belong to the main thread.
    """
    if threading.current_thread() is not threading.main_thread() or ranks.world_size() > 1:
        yield
        return

    def cancelled_now(*_: Any) -> None:
        stop.set()
        raise _CancelledNow

    signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    before = {sig: signal.signal(sig, cancelled_now) for sig in signals}
    try:
        if stop.is_set():
            raise _CancelledNow
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def fine_tune(run: Run, stop: threading.Event, resume: bool = False) -> str:
    """Train the run start to scorecard; returns ``ready`` or ``cancelled``, raises on failure."""
    try:
        with _cancel_stops_at_once(stop):
            session = prepare(run, resume)
    except _CancelledNow:
        run.log("cancelled before training began")
        return "cancelled"
    if ranks.agreed_stop(stop):
        return "cancelled"
    return fit(session, stop, resume)


def _loss_curve(run: Run) -> list[tuple[int, float]]:
    """Step and loss of every logged step, over all attempts (a resumed run keeps its history)."""
    by_step: dict[int, float] = {}
    for _, e in run.events():
        if isinstance(e, StepEvent):
            by_step[e.step] = e.loss
    return sorted(by_step.items())


def _last_step_per_attempt(run: Run) -> list[StepEvent]:
    """The last step event of each attempt: an attempt's elapsed time restarts at 0."""
    attempts: list[StepEvent] = []
    previous: StepEvent | None = None
    for _, e in run.events():
        if not isinstance(e, StepEvent) or e.elapsed_s is None:
            continue
        if previous is not None and previous.elapsed_s is not None and e.elapsed_s < previous.elapsed_s:
            attempts.append(previous)
        previous = e
    if previous is not None:
        attempts.append(previous)
    return attempts

