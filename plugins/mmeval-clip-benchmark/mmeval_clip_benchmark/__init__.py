"""mmeval plugin: CLIP_benchmark's datasets, class names and zero-shot templates as mmeval tasks
and suites (LAION, https://github.com/LAION-AI/CLIP_benchmark)."""
