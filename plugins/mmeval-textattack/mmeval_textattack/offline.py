"""Importing TextAttack without a network.

On import TextAttack (a) reads NLTK's English stop-word corpus and (b) runs a one-time "post
install" step that downloads NLTK data unless a marker file exists in its cache directory; setting
``TA_CACHE_DIR`` also makes it point ``HF_HOME`` / ``XDG_CACHE_HOME`` at that directory. We give it
a project-managed NLTK data directory holding the stop-word list below, a cache directory with the
marker, and restore the environment as it was once the import is done.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType

from mmeval import cache_dir

#: the stop words text attacks never modify (function words; an explicit list mmeval owns)
STOPWORDS = (
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
    "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just",
    "me", "more", "most", "my", "myself", "no", "nor", "not", "of", "off", "on", "once", "only",
    "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so",
    "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then",
    "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up",
    "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why",
    "will", "with", "would", "you", "your", "yours", "yourself", "yourselves",
)


def offline_dirs() -> tuple[Path, Path]:
    """(NLTK data dir with ``corpora/stopwords/english``, TextAttack cache dir with its marker)."""
    root = cache_dir() / "textattack-offline"
    nltk_dir, ta_dir = root / "nltk_data", root / "textattack"
    words = nltk_dir / "corpora" / "stopwords" / "english"
    words.parent.mkdir(parents=True, exist_ok=True)
    words.write_text("\n".join(STOPWORDS) + "\n")
    ta_dir.mkdir(parents=True, exist_ok=True)
    (ta_dir / "post_install_check_3").touch()
    return nltk_dir, ta_dir


def import_textattack() -> ModuleType:
    """``import textattack`` with no download attempted and the environment left as it was."""
    if "textattack" in sys.modules:
        return sys.modules["textattack"]
    import nltk

    nltk_dir, ta_dir = offline_dirs()
    if str(nltk_dir) not in nltk.data.path:
        nltk.data.path.insert(0, str(nltk_dir))
    saved = dict(os.environ)  # textattack and its imports set HF_HOME, XDG_CACHE_HOME, TOKENIZERS_*, ...
    os.environ["TA_CACHE_DIR"] = str(ta_dir)
    try:
        import textattack
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return textattack
