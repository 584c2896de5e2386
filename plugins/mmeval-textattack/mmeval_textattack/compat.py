"""The two modes of the Co-Attack/SGA/MMCoA BERT-Attack variant.

``paper`` follows BERT-Attack (Li et al., EMNLP 2020) and the one-word budget of the VLM papers.
``reference`` reproduces what the official Co-Attack (Zhang et al., ACM MM 2022), SGA (Lu et al.,
ICCV 2023) and MMCoA (Zhou et al., 2024) code does where that changes outputs:

- ``offset``: the candidates for word j are the MLM's predictions at the token before it;
- ``framing``: the MLM reads ``[CLS] x`` with no ``[SEP]`` (the ALBEF copy of BertTokenizer);
- ``stopwords``: the reference's list, which holds punctuation (",", ".", "-") as well as words;
- ``any_candidate``: candidates decoding to two words ("brown diamond") or to a special token
  ("[SEP]") are kept;
- ``round_trip``: the victim encodes ``decode(tokenize(text))`` truncated to ``max_length`` word
  pieces, with ``[PAD]``/``[CLS]``/``[SEP]`` removed (lower-cased, accents stripped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .offline import STOPWORDS

Mode = Literal["paper", "reference"]

#: the reference code's ``filter_words`` (identical in Co-Attack, SGA and MMCoA), in its order
REFERENCE_STOPWORDS = (
    "a", "about", "above", "across", "after", "afterwards", "again", "against", "ain", "all",
    "almost", "alone", "along", "already", "also", "although", "am", "among", "amongst", "an",
    "and", "another", "any", "anyhow", "anyone", "anything", "anyway", "anywhere", "are", "aren",
    "aren't", "around", "as", "at", "back", "been", "before", "beforehand", "behind", "being",
    "below", "beside", "besides", "between", "beyond", "both", "but", "by", "can", "cannot",
    "could", "couldn", "couldn't", "d", "didn", "didn't", "doesn", "doesn't", "don", "don't",
    "down", "due", "during", "either", "else", "elsewhere", "empty", "enough", "even", "ever",
    "everyone", "everything", "everywhere", "except", "first", "for", "former", "formerly", "from",
    "hadn", "hadn't", "hasn", "hasn't", "haven", "haven't", "he", "hence", "her", "here",
    "hereafter", "hereby", "herein", "hereupon", "hers", "herself", "him", "himself", "his", "how",
    "however", "hundred", "i", "if", "in", "indeed", "into", "is", "isn", "isn't", "it", "it's",
    "its", "itself", "just", "latter", "latterly", "least", "ll", "may", "me", "meanwhile",
    "mightn", "mightn't", "mine", "more", "moreover", "most", "mostly", "must", "mustn", "mustn't",
    "my", "myself", "namely", "needn", "needn't", "neither", "never", "nevertheless", "next", "no",
    "nobody", "none", "noone", "nor", "not", "nothing", "now", "nowhere", "o", "of", "off", "on",
    "once", "one", "only", "onto", "or", "other", "others", "otherwise", "our", "ours",
    "ourselves", "out", "over", "per", "please", "s", "same", "shan", "shan't", "she", "she's",
    "should've", "shouldn", "shouldn't", "somehow", "something", "sometime", "somewhere", "such",
    "t", "than", "that", "that'll", "the", "their", "theirs", "them", "themselves", "then",
    "thence", "there", "thereafter", "thereby", "therefore", "therein", "thereupon", "these",
    "they", "this", "those", "through", "throughout", "thru", "thus", "to", "too", "toward",
    "towards", "under", "unless", "until", "up", "upon", "used", "ve", "was", "wasn", "wasn't",
    "we", "were", "weren", "weren't", "what", "whatever", "when", "whence", "whenever", "where",
    "whereafter", "whereas", "whereby", "wherein", "whereupon", "wherever", "whether", "which",
    "while", "whither", "who", "whoever", "whole", "whom", "whose", "why", "with", "within",
    "without", "won", "won't", "would", "wouldn", "wouldn't", "y", "yet", "you", "you'd", "you'll",
    "you're", "you've", "your", "yours", "yourself", "yourselves", ".", "-", "a the", "/", "?",
    "some", '"', ",", "b", "&", "!", "@", "%", "^", "*", "(", ")", "+", "=", "<", ">", "|", ":",
    ";", "～", "·",
)


#: how many sub-words of a word the reference turns into candidate words (BERT-Attack's
#: ``get_bpe_substitues`` reads the first 12)
PIECES = 12


@dataclass(frozen=True)
class Compat:
    """Which reference behaviours the search reproduces (each one on its own, for measuring)."""

    offset: bool = False
    framing: bool = False
    stopwords: tuple[str, ...] = STOPWORDS
    any_candidate: bool = False
    round_trip: bool = False


PAPER = Compat()
REFERENCE = Compat(offset=True, framing=True, stopwords=REFERENCE_STOPWORDS, any_candidate=True,
                   round_trip=True)
MODES: dict[str, Compat] = {"paper": PAPER, "reference": REFERENCE}
