"""Length distributions in fixed memory.

Lengths go into geometric buckets (about 3% wide), so the percentiles are
close approximations and memory does not grow with the number of examples.
"""

from __future__ import annotations

import math

from engine.data.report import LengthStats

#: Buckets per doubling of length: percentiles are within about 2**(1/24) - 1 = 3%.
STEPS_PER_OCTAVE = 24
#: Bars in the histogram the report shows.
HISTOGRAM_BARS = 12


def _bucket(length: int) -> int:
    return 0 if length <= 0 else 1 + int(math.log2(length) * STEPS_PER_OCTAVE)


def _bucket_high(bucket: int) -> int:
    return 0 if bucket == 0 else max(1, math.ceil(2 ** (bucket / STEPS_PER_OCTAVE)) - 1)


class LengthAccumulator:
    """Collects lengths one at a time; ``result()`` gives ``LengthStats``."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.count = 0
        self.total = 0
        self.min = 0
        self.max = 0
        self.buckets: dict[int, int] = {}

    def add(self, length: int) -> None:
        if self.count == 0 or length < self.min:
            self.min = length
        if length > self.max:
            self.max = length
        self.count += 1
        self.total += length
        b = _bucket(length)
        self.buckets[b] = self.buckets.get(b, 0) + 1

    def _percentile(self, q: float) -> int:
        rank = q * self.count
        seen = 0
        for b in sorted(self.buckets):
            seen += self.buckets[b]
            if seen >= rank:
                return min(max(_bucket_high(b), self.min), self.max)
        return self.max

    def _histogram(self) -> list[tuple[int, int, int]]:
        """Equal-width bars from min to max, filled from the fine buckets."""
        if self.count == 0:
            return []
        span = self.max - self.min
        width = max(1, math.ceil((span + 1) / HISTOGRAM_BARS))
        bars = math.ceil((span + 1) / width)
        counts = [0] * bars
        for b, n in self.buckets.items():
            value = min(max(_bucket_high(b), self.min), self.max)
            counts[min((value - self.min) // width, bars - 1)] += n
        return [(self.min + i * width, min(self.min + (i + 1) * width - 1, self.max), c) for i, c in enumerate(counts)]

    def result(self) -> LengthStats:
        if self.count == 0:
            return LengthStats(self.unit)
        return LengthStats(
            unit=self.unit,
            count=self.count,
            total=self.total,
            min=self.min,
            max=self.max,
            mean=self.total / self.count,
            p50=self._percentile(0.5),
            p90=self._percentile(0.9),
            p99=self._percentile(0.99),
            histogram=self._histogram(),
        )
