"""Text for a character-level GPT: a names dataset, a character tokenizer, training and sampling.

The names are the first names that the Faker package ships for its
English-language locales (``pip install "microgradcn[names]"``, which pins the
Faker version so the data, and every seeded result, stay the same). Nothing is
downloaded: the lists are inside the installed package. Only names made of
the letters a–z are kept (lowercased), so the vocabulary is 26 letters plus
one boundary token: 27 tokens, and a model that knows nothing scores
ln 27 ≈ 3.30 per character.

Training follows karpathy's microgpt: one name per step, framed by the
boundary token (``[BOS] e m m a [BOS]``), the mean next-character loss over
its positions, Adam with a linearly decaying learning rate::

    step = make_step(model)          # forward + backward of one name -> its loss
    for k in range(steps):
        optimizer.zero_grad()
        loss = step(tokenizer.encode(data[k % len(data)]))
        optimizer.step()
"""

from __future__ import annotations

import functools
import importlib
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from . import optim, train
from ._progress import Progress
from .nn.transformer import GPT

__all__ = [
    "ENGLISH_LOCALES",
    "FAKER_VERSION",
    "FINAL_LOSS_STEPS",
    "LETTERS",
    "RECORDING_COST_IN_STEPS",
    "CharTokenizer",
    "NamesRun",
    "linear_decay",
    "make_step",
    "names",
    "replayed_lengths",
    "sample_names",
    "train_names",
]

FAKER_VERSION = "40.54.0"  # the version the `names` extra pins (see setup.cfg)
# Faker's English-language person providers (locale modules of faker.providers.person).
ENGLISH_LOCALES: tuple[str, ...] = ("en", "en_GB", "en_IE", "en_IN", "en_KE", "en_NG", "en_NZ", "en_PK", "en_TH",
                                    "en_US")
_FIRST_NAME_LISTS = ("first_names", "first_names_female", "first_names_male", "first_names_nonbinary")
LETTERS = "abcdefghijklmnopqrstuvwxyz"
FINAL_LOSS_STEPS = 50  # NamesRun.final_loss averages the losses of this many last steps (one name each)
_LOWER_AZ = re.compile("[a-z]+")


def _faker_person():
    try:
        return importlib.import_module("faker.providers.person")
    except ImportError:
        raise ImportError(
            "the names dataset comes from the Faker package, which is not installed: "
            f'pip install "microgradcn[names]" (Faker=={FAKER_VERSION})'
        ) from None


@functools.cache
def _sorted_names() -> tuple[str, ...]:
    _faker_person()
    found = set()
    for locale in ENGLISH_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute in _FIRST_NAME_LISTS:
            for name in getattr(provider, attribute, ()):  # a list, or a dict name -> weight
                lower = name.lower()
                if _LOWER_AZ.fullmatch(lower):
                    found.add(lower)
    return tuple(sorted(found))


def names(seed: int | None = 0) -> list[str]:
    """About 8,600 distinct lowercase first names (a–z only), shuffled with `seed`.

    The names are gathered from Faker's English-language locales
    (`ENGLISH_LOCALES`), lowercased, deduplicated and sorted; then shuffled
    with ``random.Random(seed)`` (``seed=None``: keep them sorted).
    Raises ImportError naming the ``names`` extra if Faker is missing.
    """
    data = list(_sorted_names())
    if seed is not None:
        random.Random(seed).shuffle(data)
    return data


class CharTokenizer:
    """Characters to integer ids and back, with one boundary token (BOS/EOS).

    Characters get ids 0, 1, ... in the order given; the boundary token gets
    the last id, ``bos = len(chars)``, as in microgpt. It marks both the start
    and the end of a text.

    >>> tok = CharTokenizer()
    >>> tok.encode("emma")
    [26, 4, 12, 12, 0, 26]
    >>> tok.decode([4, 12, 12, 0])
    'emma'
    """

    def __init__(self, chars: str = LETTERS) -> None:
        if not isinstance(chars, str) or not chars:
            raise ValueError(f"chars must be a non-empty string, got {chars!r}")
        if len(set(chars)) != len(chars):
            repeated = sorted({c for c in chars if chars.count(c) > 1})
            raise ValueError(f"chars must not repeat a character, got repeated {''.join(repeated)!r}")
        self.chars = chars
        self.bos = len(chars)
        self._ids = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> CharTokenizer:
        """A tokenizer for exactly the characters that occur in `texts` (sorted)."""
        return cls("".join(sorted(set("".join(texts)))))

    @property
    def vocab_size(self) -> int:
        """Number of ids: one per character, plus the boundary token."""
        return len(self.chars) + 1

    def encode(self, text: str, boundaries: bool = True) -> list[int]:
        """The ids of `text`'s characters, framed by the boundary token unless ``boundaries=False``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}: {text!r}")
        try:
            ids = [self._ids[c] for c in text]
        except KeyError as error:
            raise ValueError(f"character {error.args[0]!r} of {text!r} is not in the vocabulary") from None
        return [self.bos] + ids + [self.bos] if boundaries else ids

    def decode(self, ids: Sequence[int]) -> str:
        """The text of `ids`; boundary tokens are dropped."""
        out = []
        for i in ids:
            if i == self.bos:
                continue
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(self.chars):
                raise ValueError(f"token id must be an int in [0, {self.vocab_size}), got {i!r}")
            out.append(self.chars[i])
        return "".join(out)

    def __repr__(self) -> str:
        return f"CharTokenizer({len(self.chars)} characters + boundary, vocab_size={self.vocab_size})"


# ------------------------------------------------------------------- training
# A GPT step's recording costs about as much CPU as this many eager steps of the same name length (measured on
# GPT(27): 0.3-0.7 s to record a 5- to 11-token name, 14-50 ms for an eager step, 2-3 ms to replay; a recording
# writes each position's head and loss once, see `replay.repeats`). See `replayed_lengths`.
RECORDING_COST_IN_STEPS = 20


def make_step(model: GPT, replay: bool = False,
              lengths: Iterable[int] | None = None) -> Callable[[Sequence[int]], float]:
    """One training step's forward and backward, as a function ``step(tokens) -> loss``.

    It builds the loss graph of one framed sequence, runs `backward()` (which
    adds into every parameter's `.grad`; zero them first) and returns the loss
    as a float. The optimizer update is left to the caller. This is
    ``train.make_step(model.loss, model.parameters(), ...)``, the one way steps are made.

    With ``replay=True`` the step is `microgradcn.replay.trace`d: the graph of
    a sequence length is recorded once and replayed for every name of that
    length (token ids are data), with exactly the same numbers. `lengths`
    (token counts, see `replayed_lengths`) limits replay to those lengths;
    sequences of any other length run eagerly, with the same numbers too
    (replay is exact), without paying for a recording. The step then counts
    ``records`` (recordings made) and ``eager_steps``.
    """
    traced = train.make_step(model.loss, model.parameters(), replay="python" if replay else None,
                             cache_size=model.block_size + 1)
    if not replay or lengths is None:
        return traced
    return _ReplayedLengths(traced, train.make_step(model.loss), lengths)


class _ReplayedLengths:
    """A GPT step that replays the sequences of some lengths and runs the others eagerly (`make_step`)."""

    def __init__(self, traced: Callable[[Sequence[int]], float], eager: Callable[[Sequence[int]], float],
                 lengths: Iterable[int]) -> None:
        self.traced, self.eager = traced, eager
        self.lengths = frozenset(lengths)
        self.eager_steps = 0

    @property
    def records(self) -> int:
        return int(getattr(self.traced, "records", 0))

    def __call__(self, tokens: Sequence[int]) -> float:
        if len(tokens) in self.lengths:
            return self.traced(tokens)
        self.eager_steps += 1
        return self.eager(tokens)

    def __repr__(self) -> str:
        return f"{self.traced!r} for token lengths {sorted(self.lengths)}, eager_steps={self.eager_steps}"


def replayed_lengths(sequences: Iterable[Sequence[int]], min_count: int = RECORDING_COST_IN_STEPS) -> set[int]:
    """The token lengths met at least `min_count` times in `sequences`: the ones worth recording.

    A training run knows its names in advance. A length met c times costs
    c eager steps, or one recording plus c replayed steps; a recording costs
    about `RECORDING_COST_IN_STEPS` eager steps, so a length met fewer times
    than that is cheaper trained eagerly (the rare very short and very long
    names). Counting ahead picks the cheaper way for every length at once,
    where recording on a second sighting would still record lengths seen
    only a few times and run every common length eagerly once more. The
    numbers are the same either way: replay is exact.
    """
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be a positive int, got {min_count!r}")
    counts = Counter(len(s) for s in sequences)
    return {length for length, count in counts.items() if count >= min_count}


def linear_decay(lr: float, steps: int) -> Callable[[int], float]:
    """The learning-rate schedule ``k -> lr * (1 - k / steps)`` (microgpt's)."""
    optim._check("lr", lr)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    return lambda k: lr * (1 - k / steps)


@dataclass
class NamesRun:
    """What `train_names` produced: the model, its tokenizer, the loss of every step, samples."""

    model: GPT
    tokenizer: CharTokenizer
    losses: list[float] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the training loop (sampling left out)
    cpu_seconds: float = 0.0  # this process's CPU time in it: what other programs on the machine do not change

    @property
    def final_loss(self) -> float:
        """Mean loss over the last FINAL_LOSS_STEPS (50) steps (fewer if the run was shorter)."""
        tail = self.losses[-FINAL_LOSS_STEPS:]
        return sum(tail) / len(tail) if tail else float("nan")


def train_names(
    steps: int = 1000,
    seed: int = 0,
    lr: float = 0.01,
    data: Sequence[str] | None = None,
    tokenizer: CharTokenizer | None = None,
    model: GPT | None = None,
    step: Callable[[Sequence[int]], float] | None = None,
    num_samples: int = 20,
    temperature: float = 0.5,
    progress: bool = False,
    replay: bool = False,
) -> NamesRun:
    """Train a `GPT` on names, one name per step, then sample `num_samples` names.

    Defaults are microgpt's: ``GPT(27)`` (4,192 parameters), Adam with
    lr 0.01, betas (0.85, 0.99), eps 1e-8 and linear decay to 0, names in a
    fixed shuffled order, samples at temperature 0.5. `seed` picks the data
    order, the initial weights and the samples, so a run is reproducible.
    `step` replaces the forward + backward function (default `make_step`).
    With ``replay=True`` (and no `step`) the names of a length met at least
    `RECORDING_COST_IN_STEPS` times in the run replay, the others train
    eagerly (`replayed_lengths`): the same losses as eager mode, bit for bit.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    data = names(seed) if data is None else list(data)
    if not data:
        raise ValueError("train_names needs at least one name")
    tokenizer = CharTokenizer() if tokenizer is None else tokenizer
    model = GPT(tokenizer.vocab_size, seed=seed) if model is None else model
    encoded = [tokenizer.encode(name) for name in data]
    if step is None:
        lengths = replayed_lengths(encoded[k % len(encoded)] for k in range(steps)) if replay else None
        step = make_step(model, replay=replay, lengths=lengths)
    params = model.parameters()
    opt = optim.Adam(params, lr=linear_decay(lr, steps), betas=(0.85, 0.99), eps=1e-8)
    run = NamesRun(model, tokenizer)
    bar = Progress(steps, "names", progress)
    start, cpu_start = time.perf_counter(), time.process_time()
    for k in range(steps):
        opt.zero_grad()
        loss = step(encoded[k % len(encoded)])
        opt.step()
        run.losses.append(loss)
        bar.advance(loss=f"{loss:.4f}")
    run.seconds, run.cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    bar.close()
    run.samples = sample_names(model, tokenizer, num_samples, temperature, seed)
    return run


def sample_names(
    model: GPT, tokenizer: CharTokenizer, n: int = 20, temperature: float = 0.5, seed: int | None = 0
) -> list[str]:
    """`n` names sampled one after another from one ``random.Random(seed)``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    rng = random.Random(seed)
    return [tokenizer.decode(model.generate(tokenizer.bos, temperature, rng=rng)) for _ in range(n)]
