"""The likelihood table: average log-likelihood and perplexity per model, and the change."""

from __future__ import annotations

from textual.content import Content

from engine.infer.protocol import Scores
from tui.format import number


def format_scores(scores: dict[str, Scores]) -> Content:
    """One row per model, then the change in average log-likelihood (custom − baseline).

    The change is green when the custom model finds the text likelier (higher
    is better), red when it does not.
    """
    rows = [Content.styled(f"{'':<9} {'avg log-lik':>12} {'perplexity':>12} {'tokens':>7}", "dim")]
    for model, reply in scores.items():
        rows.append(
            Content(
                f"{model:<9} {number(reply.avg_logprob, '.3f'):>12} "
                f"{number(reply.perplexity, ',.2f'):>12} {reply.scored_tokens:>7}"
            )
        )
    base, custom = (scores[m].avg_logprob if m in scores else None for m in ("baseline", "custom"))
    if base is not None and custom is not None:
        change = custom - base
        better = change > 0
        verdict = "custom higher: it fits the text better" if better else "custom not higher"
        rows.append(
            Content.assemble(
                f"{'change':<9} ",
                (f"{change:>+12.3f}", "$text-success" if better else "$text-error"),
                Content.styled(f"  {verdict}", "dim"),
            )
        )
    return Content("\n").join(rows)
