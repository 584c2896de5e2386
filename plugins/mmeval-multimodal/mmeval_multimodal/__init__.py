"""mmeval-multimodal: joint image+text attacks and the AdvCLIP universal patch."""
