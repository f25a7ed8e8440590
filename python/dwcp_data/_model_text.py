"""Checks of a LightGBM text model before LightGBM parses it.

LightGBM's parser trusts its input: a header that promises more trees or
classes than the text holds, tree sizes that point past the end, or child
indices outside a tree make it read out of bounds or allocate terabytes,
which kills the interpreter. A model file is bytes on disk, so it is read here
first, against its model card: the header's classes, outputs and features are
the card's, the trees are where ``tree_sizes`` says and hold what their
``num_leaves`` says, and every index stays inside its tree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["check_model_text"]

#: Leaves a tree of ours may have (LightGBM's own limit is 131,072).
MAX_LEAVES = 131_072
#: Trees a model may hold: far beyond any selector (200 rounds × 3 classes).
MAX_TREES = 1_000_000
#: Per-node arrays of a tree, with the nodes they hold: internal (L - 1) or leaves (L).
_INTERNAL = ("split_feature", "split_gain", "threshold", "decision_type", "left_child", "right_child")
_LEAVES = ("leaf_value",)
_END = "end of trees"


class ModelTextError(ValueError):
    """What is wrong with a model text (the caller names the file); ``rule``:
    ``model_format`` (not a whole, consistent model) or ``model_card`` (a
    model, but not the one its card describes)."""

    def __init__(self, message: str, rule: str = "model_format") -> None:
        super().__init__(message)
        self.rule = rule


def _fields(block: str) -> dict[str, str]:
    """``key=value`` lines of a block (other lines ignored)."""
    out: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out.setdefault(key, value)
    return out


def _whole(fields: dict[str, str], key: str, lo: int, hi: int) -> int:
    """``fields[key]`` as a whole number in ``[lo, hi]``."""
    try:
        value = int(fields[key])
    except (KeyError, ValueError):
        raise ModelTextError(f"its `{key}` is missing or not a whole number") from None
    if not lo <= value <= hi:
        raise ModelTextError(f"its `{key}` is {value}, outside {lo}..{hi}")
    return value


def _numbers(fields: dict[str, str], key: str, count: int, parse: Callable[[str], object]) -> list[object]:
    """``count`` space-separated values of ``fields[key]``."""
    values = fields.get(key, "").split()
    if len(values) != count:
        raise ModelTextError(f"a tree's `{key}` has {len(values)} values, not {count}")
    try:
        return [parse(v) for v in values]
    except ValueError:
        raise ModelTextError(f"a tree's `{key}` holds something that is not a number") from None


def _check_tree(block: str, index: int, features: int) -> None:
    """One ``Tree=index`` block: its arrays have the lengths its ``num_leaves``
    gives, and every feature and child index points inside the model and the tree."""
    if not block.startswith(f"Tree={index}\n"):
        raise ModelTextError(f"tree {index} is not where `tree_sizes` puts it")
    fields = _fields(block)
    leaves = _whole(fields, "num_leaves", 1, MAX_LEAVES)
    if _whole(fields, "num_cat", 0, 2**31) != 0:
        raise ModelTextError("it has categorical splits, which no dwcp-data selector has")
    for key in _LEAVES:
        _numbers(fields, key, leaves, float)
    if leaves == 1:
        return
    for key in _INTERNAL:
        _numbers(fields, key, leaves - 1, float if key in ("split_gain", "threshold") else int)
    if any(not 0 <= int(f) < features for f in fields["split_feature"].split()):
        raise ModelTextError(f"tree {index} splits on a feature the model does not have")
    for key in ("left_child", "right_child"):
        if any(not -leaves <= int(c) < leaves - 1 for c in fields[key].split()):
            raise ModelTextError(f"tree {index} has a `{key}` outside the tree")


def check_model_text(text: str, feature_names: Sequence[str], outputs: int) -> None:
    """Raises :class:`ModelTextError` unless ``text`` is a LightGBM text model
    of ``outputs`` outputs per round (1 for two classes) on exactly
    ``feature_names``, in that order, whose every tree is whole and
    consistent."""
    start = text.find("\nTree=")
    end = text.find(_END, max(start, 0))
    if not text.startswith("tree\n") or start < 0 or end < 0:
        raise ModelTextError("it is not a whole LightGBM text model (no header, trees or end of trees)")
    header = _fields(text[:start])
    num_class = _whole(header, "num_class", 1, 2**31)
    per_round = _whole(header, "num_tree_per_iteration", 1, 2**31)
    if per_round != outputs or num_class != outputs:
        raise ModelTextError(
            f"it has num_class={num_class} and num_tree_per_iteration={per_round}, not the {outputs} "
            "output(s) its card's classes need",
            "model_card",
        )
    features = _whole(header, "max_feature_idx", 0, 2**31) + 1
    names = header.get("feature_names", "").split(" ")
    if features != len(feature_names) or names != list(feature_names):
        raise ModelTextError(
            f"its features are {names[: len(feature_names) + 1]} ({features} in all), not its card's "
            f"{list(feature_names)}",
            "model_card",
        )
    try:
        sizes = [int(v) for v in header.get("tree_sizes", "").split()]
    except ValueError:
        raise ModelTextError("its `tree_sizes` are not whole numbers") from None
    if not sizes or len(sizes) > MAX_TREES or len(sizes) % per_round or min(sizes) <= 0:
        raise ModelTextError(f"its `tree_sizes` list {len(sizes)} trees, not whole rounds of {per_round}")
    first = start + 1
    if sum(sizes) != end - first:
        raise ModelTextError(
            f"its `tree_sizes` add up to {sum(sizes):,} bytes, but its trees take {end - first:,} (cut short or edited)"
        )
    at = first
    for index, size in enumerate(sizes):
        _check_tree(text[at : at + size], index, features)
        at += size
