"""Build a tiny but real ``.argosmodel``: a SentencePiece tokenizer and a random-weight CTranslate2 model.

The package has the layout argostranslate installs and loads (``metadata.json``, ``sentencepiece.model``,
``model/model.bin`` …), so install → load → translate runs the real code paths end to end. Its "translation"
is meaningless but predictable: the output projection is biased so that every sentence becomes one tag
token — ``XX`` for a package into ``xx`` — followed by the end of the sentence. A test therefore sees which
package translated (``EN`` vs ``XX`` on a pivot route) and how many sentences argostranslate was given.

Usage:
```python
path = build_tiny_argosmodel(tmp_path, "de", "xx")      # tmp_path / "translate-de_xx.argosmodel"
install_model(path, packages_dir)
ArgosEngine(packages_dir).translate("Hallo. Wie geht es?", "de", "xx")   # "XX XX"
```
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np

CORPUS_TEXT = Path(__file__).resolve().parents[2] / "corpus" / "integrationskonzept.md"
VOCAB_SIZE = 300
D_MODEL = 16
FFN_DIM = 32


def tag_for(to_code: str) -> str:
    """The text a tiny package into ``to_code`` turns every sentence into (e.g. ``XX``)."""
    return to_code.upper()


def _training_sentences() -> list[str]:
    text = CORPUS_TEXT.read_text(encoding="utf-8")
    pieces = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [p.strip() for p in pieces if len(p.strip()) > 3]


def _train_sentencepiece(tag: str) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_training_sentences()), model_writer=model, vocab_size=VOCAB_SIZE,
        model_type="unigram", character_coverage=1.0, user_defined_symbols=[f"▁{tag}"], num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def _transformer_spec(vocabulary: list[str], tag: str, seed: int):  # type: ignore[no-untyped-def]
    from ctranslate2.specs import transformer_spec

    rng = np.random.default_rng(seed)
    size = len(vocabulary)

    def weights(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def layer_norm(spec) -> None:  # type: ignore[no-untyped-def]
        spec.gamma = np.ones(D_MODEL, np.float32)
        spec.beta = np.zeros(D_MODEL, np.float32)

    def linear(spec, out_dim: int, in_dim: int) -> None:  # type: ignore[no-untyped-def]
        spec.weight = weights(out_dim, in_dim)
        spec.bias = np.zeros(out_dim, np.float32)

    def feed_forward(spec) -> None:  # type: ignore[no-untyped-def]
        layer_norm(spec.layer_norm)
        linear(spec.linear_0, FFN_DIM, D_MODEL)
        linear(spec.linear_1, D_MODEL, FFN_DIM)

    spec = transformer_spec.TransformerSpec.from_config(num_layers=1, num_heads=2)
    encoder, decoder = spec.encoder, spec.decoder
    encoder.embeddings[0].weight = weights(size, D_MODEL)
    layer_norm(encoder.layer_norm)
    for layer in encoder.layer:
        layer_norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * D_MODEL, D_MODEL)  # fused query, key, value
        linear(layer.self_attention.linear[1], D_MODEL, D_MODEL)
        feed_forward(layer.ffn)
    decoder.embeddings.weight = weights(size, D_MODEL)
    layer_norm(decoder.layer_norm)
    for layer in decoder.layer:
        layer_norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * D_MODEL, D_MODEL)
        linear(layer.self_attention.linear[1], D_MODEL, D_MODEL)
        layer_norm(layer.attention.layer_norm)
        linear(layer.attention.linear[0], D_MODEL, D_MODEL)  # query
        linear(layer.attention.linear[1], 2 * D_MODEL, D_MODEL)  # fused key, value over the encoder output
        linear(layer.attention.linear[2], D_MODEL, D_MODEL)
        feed_forward(layer.ffn)
    linear(decoder.projection, size, D_MODEL)
    # The weights are tiny, so the bias decides: the end token wins whenever it is allowed (CTranslate2
    # forbids it as the first token), otherwise the tag — one tag per sentence.
    bias = np.zeros(size, np.float32)
    bias[vocabulary.index("</s>")] = 10.0
    bias[vocabulary.index(f"▁{tag}")] = 5.0
    decoder.projection.bias = bias
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.validate()
    return spec


def build_tiny_argosmodel(out_dir: Path, from_code: str = "de", to_code: str = "xx", seed: int = 0) -> Path:
    """Write ``out_dir / "translate-<from>_<to>.argosmodel"`` (one top-level package folder inside).

    :returns: the path of the ``.argosmodel`` file.
    """
    import sentencepiece as spm

    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"translate-{from_code}_{to_code}"
    package_dir = out_dir / f"{name}-1_0"
    if package_dir.exists():
        shutil.rmtree(package_dir)
    (package_dir / "model").mkdir(parents=True)

    tag = tag_for(to_code)
    sp_model = _train_sentencepiece(tag)
    (package_dir / "sentencepiece.model").write_bytes(sp_model)
    processor = spm.SentencePieceProcessor(model_proto=sp_model)
    vocabulary = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    _transformer_spec(vocabulary, tag, seed).save(str(package_dir / "model"))

    metadata = {
        "package_version": "1.0", "argos_version": "1.11", "from_code": from_code, "to_code": to_code,
        "from_name": f"Tiny {from_code}", "to_name": f"Tiny {to_code}", "type": "translate",
    }
    (package_dir / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    (package_dir / "README.md").write_text("A random-weight test package; its output is meaningless.\n",
                                           encoding="utf-8")

    archive_path = out_dir / f"{name}.argosmodel"
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(package_dir.rglob("*")):
            archive.write(file, file.relative_to(out_dir).as_posix())
    shutil.rmtree(package_dir)
    return archive_path
