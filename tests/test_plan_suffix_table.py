"""The suffix table the planner's normaliser walks (``SuffixRules.table``) is the one the former,
plainer construction built (kept below as the oracle, encoding every rule with the codec), for the
shipped list and for small lists of every kind of rule; and the shipped list's non-ASCII rules
looked up in ``auditor/targets/_psl_idna.py`` are the codec's encodings.

``python tests/test_plan_suffix_table.py`` writes ``_psl_idna.py`` again for the installed list."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from publicsuffixlist import PSLFILE

import publicsuffixlist

from auditor.targets import _psl_idna
from auditor.targets.domains import _ICANN_BEGIN, _ICANN_END, SuffixRules, _ascii_rule, _encoded_rule


def _codec(rule: str) -> str:
    """The former ``_ascii_rule``: every non-ASCII rule through the codec."""
    if rule.isascii():
        return rule
    bang = "!" if rule.startswith("!") else ""
    return bang + rule.lstrip("!").encode("idna").decode("ascii")


def _old_table(path: str) -> dict[str, tuple[int, int, int, int]]:
    all_rules: set[str] = set()
    icann_rules: set[str] = set()
    in_icann = False
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            stripped = line.rstrip()
            if stripped == _ICANN_BEGIN:
                in_icann = True
            elif stripped == _ICANN_END:
                in_icann = False
            rule = stripped.split(" ")[0].lower()
            if rule and not rule.startswith("//"):
                rule = _codec(rule)
                all_rules.add(rule)
                if in_icann:
                    icann_rules.add(rule)
    nodes: set[str] = set()
    for rule in all_rules:
        labels = rule.lstrip("!").split(".")
        nodes.update(".".join(labels[start:]) for start in range(len(labels)) if labels[start] != "*")
    return {node: _old_lengths(node, all_rules) + _old_lengths(node, icann_rules) for node in nodes}


def _old_lengths(suffix: str, rules: set[str]) -> tuple[int, int]:
    depth = suffix.count(".") + 1
    if "!" + suffix in rules:
        return depth - 1, depth - 1
    if "*." + suffix in rules:
        return depth, depth + 1
    if suffix in rules:
        return depth, depth
    return 0, 0


def test_the_shipped_list_gives_the_same_table() -> None:
    assert SuffixRules(PSLFILE).table == _old_table(PSLFILE)


_LABELS = st.sampled_from(["jp", "kawasaki", "city", "*", "co", "uk", "io", "github", "ck", "www", "x*", "bücher",
                           "ａｂ", "straße", "ÅLESUND"])
_RULES = st.builds(lambda kind, labels: kind + ".".join(labels), st.sampled_from(["", "", "!", "*."]),
                   st.lists(_LABELS, min_size=1, max_size=4))
_LINES = _RULES | st.sampled_from(["", "// a comment", _ICANN_BEGIN, _ICANN_END, _ICANN_BEGIN + "  ", " indented.jp",
                                   "\ttabbed.jp", "jp trailing words", "//*.jp", "UPPER.JP"])


@settings(max_examples=200, deadline=None)
@given(st.lists(_LINES, max_size=30))
def test_any_small_list_gives_the_same_table(tmp_path_factory: object, lines: list[str]) -> None:
    path = Path(tmp_path_factory.mktemp("psl")) / "list.dat"  # type: ignore[attr-defined]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert SuffixRules(str(path)).table == _old_table(str(path))


def test_the_looked_up_encodings_are_the_codecs() -> None:
    assert _psl_idna.ENCODED
    for rule, encoded in _psl_idna.ENCODED.items():
        assert _encoded_rule(rule) == _codec(rule) == encoded, rule
        assert _ascii_rule(rule) == encoded


def test_a_rule_not_looked_up_is_encoded() -> None:
    for rule in ("bücher.example", "!straße.example", "*.ａｂ.example"):
        assert rule not in _psl_idna.ENCODED
        assert _ascii_rule(rule) == _codec(rule)


def _write_encoded(path: Path) -> None:
    """``_psl_idna.py`` for the installed list's non-ASCII rules."""
    rules: set[str] = set()
    with open(PSLFILE, encoding="utf-8") as lines:
        for line in lines:
            rule = line.rstrip().split(" ")[0].lower()
            if rule and not rule.startswith("//") and not rule.isascii():
                rules.add(rule)
    head = (_psl_idna.__doc__ or "").split("``publicsuffixlist`` ", 1)
    version = getattr(publicsuffixlist, "__version__", "?")
    doc = head[0] + "``publicsuffixlist`` " + version + head[1][head[1].index(","):] if len(head) == 2 else ""
    entries = "".join(f"    {rule!r}: {_codec(rule)!r},\n" for rule in sorted(rules))
    path.write_text(f'"""{doc}"""\n\nENCODED: dict[str, str] = {{\n{entries}}}\n', encoding="utf-8")


if __name__ == "__main__":
    _write_encoded(Path(_psl_idna.__file__))
