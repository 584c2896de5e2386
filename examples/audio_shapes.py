"""Audio: how robust is the zoo's tiny audio-text model on the sounds world?

The sounds world is the shapes world heard (timbre = shape, pitch = colour, loudness = size,
rhythm = position; docs/models-and-data.md). Zero-shot classification of the 10 timbres and of
the 3 loudness levels, and audio-text retrieval, clean and under PGD on the waveform: an L-inf
budget in full-scale amplitude units (0.002 is -54 dBFS, 0.01 is -40 dBFS; the sounds peak at
0.2-0.7) and the largest of them with a 30 dB signal-to-noise floor, the kind of budget audio
papers quote. The tiny audio-text model ships with mmeval; the run takes about 2 minutes on 2 CPU
cores (results: docs/results-audio.md).

    mmeval run examples/audio_shapes.py
"""

from mmeval import EvalSpec

PROMPT = {"template": "this is the sound of a {}"}

SPEC = EvalSpec(
    name="audio-shapes",
    models=[{"name": "zoo/tiny-clap-shapes"}],
    tasks=[
        {"dataset": {"name": "sounds", "params": {"n": 500, "classes": "shape"}},
         "objective": {"name": "zero-shot", "params": PROMPT}, "label": "sounds-timbre"},
        {"dataset": {"name": "sounds", "params": {"n": 500, "classes": "size"}},
         "objective": {"name": "zero-shot", "params": PROMPT}, "label": "sounds-loudness"},
        {"dataset": {"name": "sounds", "params": {"n": 500}}, "objective": "retrieval",
         "label": "sounds-retrieval"},
    ],
    attacks=[
        "clean",
        *({"name": "mmeval/pgd", "params": {"modality": "audio", "eps": eps, "steps": 10},
           "label": f"pgd {eps:g}"} for eps in (0.002, 0.005, 0.01)),
        {"name": "mmeval/pgd", "params": {"modality": "audio", "eps": 0.01, "snr_db": 30.0,
                                          "steps": 10}, "label": "pgd 0.01, SNR>=30 dB"},
    ],
    run={"batch_size": 100, "seed": 0},
)
