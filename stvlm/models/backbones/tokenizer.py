"""An offline word-level tokenizer for the random ``from_config`` presets.

Real backbones load their own tokenizer with ``AutoTokenizer.from_pretrained``. The tiny, small
and base presets have random weights, so any fixed vocabulary will do; this one covers most
words of the text prompts (window statistics, time context, dataset descriptions), digits one by
one and punctuation. Words outside it read as ``[UNK]``: in the default compact prompts a
dataset's short name in part (``sz``, ``nycbike``, ``off``) and sz-taxi's ``class``; in the full
style also some template words (``runs``, ``common``) and punctuation pairs (``):``). The
vocabulary stays fixed, so the token ids of trained checkpoints and of the committed results stay
what they were. It needs no download, and it saves and loads with ``save_pretrained`` /
``AutoTokenizer.from_pretrained`` like any fast tokenizer.
"""

from __future__ import annotations

from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from tokenizers.processors import TemplateProcessing
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[IMG]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, IMAGE_ID = range(len(SPECIAL_TOKENS))
DIGITS = tuple("0123456789")
PUNCTUATION = tuple(".,:;-+/%()'\"?!=_#*<>[]&")
WORDS = tuple(
    """
    a an the of in on at to for from by with and or as is are was were be been it its this that
    these those there which what when where each every per than then over under into about after
    before between during up down no not all any some most more less same other only also very
    traffic speed flow volume demand pickup pick drop dropoff taxi bike bicycle station stations
    sensor sensors node nodes road roads loop detector detectors highway freeway network city
    region regions zone zones grid cell cells area areas map heat heatmap image picture pixel
    pixels channel channels row rows column columns red green blue brightness colour color
    value values mean average median minimum min maximum max std deviation variance trend trends
    upward downward rising falling increasing decreasing stable flat change difference differences
    correlation correlations adjacency graph spectral layout order ordered ordering fiedler vector
    frequency frequencies periodicity periodic period spectrum fourier magnitude phase learned
    learnable convolution temporal spatial time series window windows step steps history historical
    past next future forecast forecasting predict prediction predicting horizon input output
    minute minutes hour hours day days week weeks month months year interval intervals recorded
    recording data dataset measured measurements observation observations missing zero zeros
    mph km kmh h units unit count counts inflow outflow drops rides trips vehicles vehicle
    monday tuesday wednesday thursday friday saturday sunday weekday weekend weekdays morning
    afternoon evening night noon midnight peak rush daily weekly
    january february march april may june july august september october november december
    weather temperature rain rainy sunny cloudy snow wind visibility humidity clear fog
    poi pois point points interest category categories residential commercial office school
    schools hospital shopping restaurant park parking transport food service services
    los angeles shenzhen new york nyc metr la pems bay california county usa china manhattan
    first last start end begin ends starts shown shows show encodes encoded rendered rendering
    using use based given following previous current recent latest
    high low higher lower large small big busy busiest quiet top level levels rate rates
    normalised normalized scaled raw original
    """.split()
)


def vocabulary() -> dict[str, int]:
    """The fixed vocabulary: special tokens, digits, punctuation, then the words (deduplicated)."""
    vocab: dict[str, int] = {}
    for token in (*SPECIAL_TOKENS, *DIGITS, *PUNCTUATION, *WORDS):
        vocab.setdefault(token, len(vocab))
    return vocab


VOCAB_SIZE = len(vocabulary())


def word_tokenizer(model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """A lower-casing word-level tokenizer over :func:`vocabulary` (``[CLS] ... [SEP]``).

    Args:
        model_max_length: longest sequence the backbone takes (text position embeddings).

    Returns:
        A fast tokenizer with ``[PAD]`` = 0, ``[UNK]`` = 1, ``[CLS]`` = 2, ``[SEP]`` = 3 and
        ``[IMG]`` = 4 (the image placeholder of decoder VLM configs), padding on the right.
    """
    tok = Tokenizer(WordLevel(vocabulary(), unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)]
    )
    tok.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", CLS_ID), ("[SEP]", SEP_ID)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        bos_token="[CLS]",
        eos_token="[SEP]",
        model_max_length=model_max_length,
        padding_side="right",
    )
