"""``compat="reference"`` reproduces the official Co-Attack/SGA/MMCoA text stage.

The reference procedure below is re-stated from its description (Co-Attack's and SGA's
``BertAttack`` as documented: MLM on ``[CLS] x`` without ``[SEP]``, candidates indexed by the
per-word sub-word offsets into that output, the reference's stop words, every candidate kept but
the original, ``##`` pieces and stop words, the victim fed the BERT decode round trip), one text at
a time, without mmeval's engine.
"""

import dataclasses
import itertools

import pytest
import torch
import torch.nn.functional as F
from mmeval_textattack.compat import PAPER, REFERENCE, REFERENCE_STOPWORDS
from mmeval_textattack.mlm import load_mlm
from mmeval_textattack.scores import away_from, kl_from
from mmeval_textattack.vlm_variant import VLMBertAttackEngine

from mmeval import create, create_model

MAX_LENGTH = 24  # the zoo MLM's position limit: the attack caps its max_length there

EXTRA = [  # punctuation, multi-piece words, accents, a special token, truncation, double spaces
    "a small café circle, bluish and triangular, top left",
    "squares. circles, arrows; [SEP] a big red star",
    "a large red circle in the top left and a small blue square in the bottom right next to a "
    "green triangle and a cyan arrow",
    "a  medium   yellow star",
    "a red circle , one blue square next to an empty triangle",
    "one , first",
]


def reference_text_attack(text, goal, encode, mlm, tok, k=10, threshold=0.3, budget=1):
    """One text through the reference's BERT-Attack variant; ``goal(embeddings) -> scores``."""

    def framed(t):
        ids = [tok.cls_token_id, *tok.convert_tokens_to_ids(tok.tokenize(t))[:MAX_LENGTH - 1]]
        pad = MAX_LENGTH - len(ids)
        return ids + [tok.pad_token_id] * pad, [1] * len(ids) + [0] * pad

    def victim(texts):
        seen = []
        for t in texts:
            s = tok.decode(framed(t)[0], clean_up_tokenization_spaces=True)
            for special in ("[PAD]", "[CLS]", "[SEP]"):
                s = s.replace(special, "")
            seen.append(s.strip())
        with torch.no_grad():
            return encode(seen).float()

    ids, mask = framed(text)
    with torch.no_grad():
        logits = mlm(input_ids=torch.tensor([ids]), attention_mask=torch.tensor([mask])).logits[0]
    scores, predictions = logits.topk(k, dim=-1)
    origin = victim([text])[0]
    words = text.split(" ")
    masked = [" ".join([*words[:i], "[UNK]", *words[i + 1:]]) for i in range(len(words))]
    p = F.softmax(origin, dim=-1)
    importance = (p * (p.log() - F.log_softmax(victim(masked), dim=-1))).sum(dim=-1).tolist()
    order = sorted(range(len(words)), key=lambda i: importance[i], reverse=True)
    keys, at = [], 0
    for w in words:
        n = len(tok.tokenize(w))
        keys.append((at, at + n))
        at += n
    final, changed = list(words), 0
    for i in order:
        if changed >= budget:
            break
        word = words[i]
        if word in REFERENCE_STOPWORDS or keys[i][0] > MAX_LENGTH - 2:
            continue
        subs, subs_scores = predictions[keys[i][0]:keys[i][1]], scores[keys[i][0]:keys[i][1]]
        candidates = []
        if len(subs) == 1:
            for token, score in zip(subs[0].tolist(), subs_scores[0].tolist(), strict=True):
                if threshold != 0 and score < threshold:
                    break
                candidates.append(tok.convert_ids_to_tokens(token))
        elif len(subs) > 1:
            combos = torch.tensor(list(itertools.product(*subs[:12, :4].tolist()))[:24])
            with torch.no_grad():
                out = mlm(input_ids=combos).logits
            ppl = F.cross_entropy(out.reshape(-1, out.shape[-1]), combos.reshape(-1),
                                  reduction="none").view(combos.shape).mean(dim=1).exp()
            candidates = [tok.convert_tokens_to_string(tok.convert_ids_to_tokens(combos[j].tolist()))
                          for j in ppl.argsort().tolist()]
        texts, available = [" ".join(final)], [word]
        for c in candidates:
            if c == word or "##" in c or c in REFERENCE_STOPWORDS:
                continue
            texts.append(" ".join([*final[:i], c, *final[i + 1:]]))
            available.append(c)
        best = available[int(goal(victim(texts)).argmax())]
        final[i] = best
        changed += best != word
    return " ".join(final)


@pytest.fixture(scope="module")
def world():
    model = create_model("zoo/tiny-clip-shapes").eval()
    mlm, tok = load_mlm("zoo/tiny-mlm-shapes")
    data = create("dataset", "shapes", n=20)
    samples = [data[i] for i in range(len(data))]
    captions = [c for s in samples for c in s.texts] + EXTRA
    owner = [i for i, s in enumerate(samples) for _ in s.texts] + [0] * len(EXTRA)
    with torch.no_grad():
        images = model.encode_image(torch.stack([s.image for s in samples])).float()
    return model, mlm, tok, captions, owner, images


@pytest.mark.parametrize("goal", ["kl", "image"])
def test_reference_mode_reproduces_the_reference_procedure(world, goal):
    model, mlm, tok, captions, owner, images = world
    attack = create("attack", "textattack/bert-attack-vlm", compat="reference")
    if goal == "kl":
        goals = [kl_from(e) for e in attack.embed(model, captions)]
    else:
        goals = [away_from(images[o]) for o in owner]
    got = [r[0] for r in attack.attack_texts(model, captions, goals, [None] * len(captions), 0)]
    expected = [reference_text_attack(c, g, model.encode_text, mlm, tok)
                for c, g in zip(captions, goals, strict=True)]
    assert got == expected
    assert sum(a != c for a, c in zip(got, captions, strict=True)) > len(captions) // 2


def test_the_modes_differ_where_the_reference_does(world):
    """Paper mode keeps a one-word, special-token-free budget; reference mode may not, and some
    captions come out differently."""
    model, _, _, captions, owner, images = world
    goals = [away_from(images[o]) for o in owner]
    out = {}
    for mode in ("paper", "reference"):
        attack = create("attack", "textattack/bert-attack-vlm", compat=mode)
        out[mode] = [r[0] for r in attack.attack_texts(model, captions, goals, [None] * len(goals), 0)]
    assert out["paper"] != out["reference"]
    for clean, adv in zip(captions, out["paper"], strict=True):
        assert len(adv.split(" ")) == len(clean.split(" "))
        assert sum(a != b for a, b in zip(adv.split(" "), clean.split(" "), strict=True)) <= 1
        assert "[SEP]" not in adv or "[SEP]" in clean


def test_each_reference_behaviour_is_needed(world):
    """Leaving out any one behaviour of the reference changes some caption: the re-statement
    above checks each of them."""
    model, mlm, tok, captions, owner, images = world
    goals = [away_from(images[o]) for o in owner]
    expected = [reference_text_attack(c, g, model.encode_text, mlm, tok)
                for c, g in zip(captions, goals, strict=True)]
    for field in dataclasses.fields(REFERENCE):
        compat = dataclasses.replace(REFERENCE, **{field.name: getattr(PAPER, field.name)})
        engine = VLMBertAttackEngine(mlm, tok, lambda t: model.encode_text(t), max_length=MAX_LENGTH,
                                     compat=compat)
        got = [r[0] for r in engine.attack(captions, goals)]
        assert got != expected, f"the reference's {field.name} changes no caption here"
