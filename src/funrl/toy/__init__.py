"""The CPU demo: a toy function-calling world, tiny models (random-weight and the shipped pretrained toy base), and the
commands that run the whole pipeline on them (`funrl quickstart`, `funrl ablate`, `funrl toy-base`).

    funrl.toy.world           the toy world: typed tools, paraphrased queries, ground truth, splits
    funrl.toy.tiny_model      a random-weight Qwen2-style model + locally trained tokenizer
    funrl.toy.base            the shipped toy base model: its data, builder and card
    funrl.toy.pipeline        the demo's stages (data, warm-up, RL, control, evaluation) over the library
    funrl.toy.evaluation      greedy pass@1 / pass@k and the results tables of the demo
    funrl.toy.tiny_model_cmd  `funrl tiny-model`
    funrl.toy.base_cmd        `funrl toy-base`
    funrl.toy.quickstart      `funrl quickstart`
    funrl.toy.ablate          `funrl ablate`
"""
