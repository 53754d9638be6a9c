"""Tiny randomly initialised Hugging Face models, built locally with no download.

For tests, benchmarks and trying the ``hf`` backend on a laptop: a byte-level BPE tokenizer
trained with ``tokenizers`` on a few KB of the demo's general-English corpus, a GPT-2 with
random weights, and LoRA adapters made with peft. Everything is written with
``save_pretrained`` so it is loaded back through the real loading code.
"""

from __future__ import annotations

from pathlib import Path

EOS = "<|endoftext|>"


def _training_text(n_chars: int) -> str:
    from evalkit.config import demo_dir

    return (demo_dir() / "corpora" / "general.txt").read_text(encoding="utf-8")[:n_chars]


def build_tokenizer(path: str | Path, *, vocab_size: int = 512, n_chars: int = 8000, chat_template: str | None = None):
    """Train a byte-level BPE tokenizer on ``n_chars`` of general text; save it to ``path``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator([_training_text(n_chars)], trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=EOS, eos_token=EOS, unk_token=EOS)
    if chat_template is not None:
        hf.chat_template = chat_template
    hf.save_pretrained(str(path))
    return hf


def build_tiny_model(
    path: str | Path,
    *,
    n_layer: int = 2,
    n_embd: int = 32,
    n_head: int = 2,
    n_positions: int = 256,
    vocab_size: int = 512,
    seed: int = 0,
    chat_template: str | None = None,
) -> Path:
    """A random GPT-2 and its tokenizer in ``path`` (created); returns ``path``."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(path, vocab_size=vocab_size, chat_template=chat_template)
    config = GPT2Config(
        vocab_size=len(tok), n_positions=n_positions, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
        bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id,
    )
    gen = torch.random.fork_rng()  # leave the caller's global torch seed alone
    with gen:
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(config)
        # GPT-2's default init (std 0.02) gives a nearly uniform next-token distribution; a
        # wider one makes choices differ, so scoring bugs cannot hide behind ties.
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() > 1:
                    p.normal_(0.0, 0.3)
    model.save_pretrained(str(path))
    return path


def build_lora_adapter(base: str | Path, path: str | Path, *, zero: bool = False, r: int = 4, seed: int = 1) -> Path:
    """A LoRA adapter for the model in ``base``, saved to ``path``.

    peft initialises LoRA's B matrices to zero, so a fresh adapter changes nothing; unless
    ``zero`` they are filled with random values here so that it does."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base))
    cfg = LoraConfig(r=r, lora_alpha=2 * r, target_modules=["c_attn", "c_proj"], fan_in_fan_out=True, lora_dropout=0.0)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        peft_model = get_peft_model(model, cfg)
        if not zero:
            with torch.no_grad():
                for name, p in peft_model.named_parameters():
                    if "lora_B" in name:
                        p.normal_(0.0, 0.5)
    peft_model.save_pretrained(str(path))
    return Path(path)
