"""Dataset-level rules: D1 exact dedup, D2 near-dedup with a per-cluster cap, D3 decontamination against BFCL.

.venv/bin/python -m pytest tests/test_dedup.py -q
"""

from __future__ import annotations

import pytest

from funrl.bfcl import load_bfcl
from funrl.data.dedup import (
    BFCLDataNotFound,
    DedupConfig,
    Deduper,
    MinHashIndex,
    exact_key,
    jaccard,
    normalize_text,
    shingles,
)
from funrl.schema import Sample

TOOLS = [{"name": "get_weather", "description": "d", "parameters": {"type": "object", "properties": {}}}]


def sample(text, sid="s", gt=None, origin=None, tools=TOOLS):
    return Sample(
        id=sid,
        messages=[{"role": "user", "content": text}],
        tools=tools,
        ground_truth=gt if gt is not None else [{"get_weather": {}}],
        category="simple",
        meta={"origin": origin or {"file": "f.jsonl", "line": sid, "index": sid}},
    )


def no_bfcl(**kw):
    return Deduper(DedupConfig(decontaminate=False, **kw))


@pytest.fixture(scope="module")
def bfcl_deduper(bfcl_dir):
    return Deduper(DedupConfig(bfcl_data_dir=str(bfcl_dir), near=False, exact=False))


class TestExact:
    def test_D1_duplicate_rejected_first_kept(self):
        d = no_bfcl(near=False)
        assert d.check(sample("Weather in Paris?", "a")) is None
        finding = d.check(sample("Weather   in Paris?", "b"))  # whitespace differences are normalised away
        assert finding.code == "D1" and "a" in finding.detail

    def test_D1_different_target_or_tools_kept(self):
        d = no_bfcl(near=False)
        assert d.check(sample("Weather in Paris?", "a")) is None
        assert d.check(sample("Weather in Paris?", "b", gt=[])) is None  # different target
        other = [{**TOOLS[0], "name": "get_forecast"}]
        assert d.check(sample("Weather in Paris?", "c", gt=[{"get_forecast": {}}], tools=other)) is None

    def test_key_is_content_based(self):
        assert exact_key(sample("x", "a")) == exact_key(sample("x", "b", origin={"file": "other"}))
        assert exact_key(sample("x")) != exact_key(sample("y"))


class TestNear:
    TEXT = "Could you please tell me what the weather will be like in Paris tomorrow morning around nine?"

    def test_D2_cap_per_cluster(self):
        d = no_bfcl(exact=False, near_cap=2)
        variants = [
            self.TEXT,
            self.TEXT.replace("nine", "nine!"),
            self.TEXT.replace("Could", "could"),
            self.TEXT + " ",
        ]
        results = [d.check(sample(t, str(i))) for i, t in enumerate(variants)]
        assert results[0] is None and results[1] is None  # the head and one copy: within the cap of 2
        assert all(r is not None and r.code == "D2" for r in results[2:])
        assert "0" in results[2].detail  # names the cluster head

    def test_D2_distinct_texts_kept(self):
        d = no_bfcl(exact=False, near_cap=1)
        texts = [
            self.TEXT,
            "Convert 120 euros to Japanese yen at today's rate.",
            "Play some jazz music in the kitchen.",
        ]
        assert all(d.check(sample(t, str(i))) is None for i, t in enumerate(texts))

    def test_D2_steps_of_one_record_do_not_count(self):
        d = no_bfcl(exact=False, near_cap=1)
        origin = {"file": "dialogs.jsonl", "line": 3, "index": 2}
        assert d.check(sample(self.TEXT, "d-step0", origin=origin)) is None
        assert d.check(sample(self.TEXT, "d-step1", origin=origin)) is None  # same dialog, next call step
        assert d.check(sample(self.TEXT, "other", origin={"file": "dialogs.jsonl", "line": 4})).code == "D2"

    def test_jaccard_threshold(self):
        a = shingles(normalize_text(self.TEXT))
        b = shingles(normalize_text(self.TEXT.replace("Paris", "Lyon")))
        assert 0.5 < jaccard(a, b) < 0.9
        d = no_bfcl(exact=False, near_cap=1, near_threshold=0.95)
        assert d.check(sample(self.TEXT, "a")) is None
        assert d.check(sample(self.TEXT.replace("Paris", "Lyon"), "b")) is None  # below 0.95: not a duplicate

    def test_minhash_finds_what_exact_jaccard_confirms(self):
        index = MinHashIndex()
        texts = [normalize_text(f"book a table for {n} people at the italian place on main street") for n in range(30)]
        for i, text in enumerate(texts):
            index.add(shingles(text), i)
        probe = shingles(texts[7])
        found = index.query(probe, 0.99)
        assert [i for i, _ in found] == [7]
        assert all(jaccard(probe, index.sets[i]) >= 0.6 for i, _ in index.query(probe, 0.6))


class TestDecontamination:
    def test_D3_exact_bfcl_question_rejected(self, bfcl_deduper, bfcl_dir):
        question = load_bfcl(bfcl_dir, "simple_python", limit=5)[3]
        finding = bfcl_deduper.check(sample(question.messages[-1]["content"].upper(), "x"))  # case does not matter
        assert finding.code == "D3" and question.id in finding.detail

    def test_D3_near_bfcl_question_rejected(self, bfcl_deduper, bfcl_dir):
        question = load_bfcl(bfcl_dir, "multiple", limit=10)[4]
        text = question.messages[-1]["content"]
        edited = text[:-1] + " please" + text[-1]
        finding = bfcl_deduper.check(sample(edited, "y"))
        assert finding is not None and finding.code == "D3" and question.id in finding.detail

    def test_D3_unrelated_text_kept(self, bfcl_deduper):
        assert bfcl_deduper.check(sample("Set an alarm for 6:45 tomorrow and call it wake up", "z")) is None

    def test_D3_last_user_turn_of_a_dialog_checked(self, bfcl_deduper, bfcl_dir):
        question = load_bfcl(bfcl_dir, "parallel", limit=3)[1]
        dialog = Sample(
            id="m",
            messages=[
                {"role": "user", "content": "Hi, I have a few questions about several unrelated topics today."},
                {"role": "assistant", "content": "Sure, ask away."},
                {"role": "user", "content": question.messages[-1]["content"]},
            ],
            tools=TOOLS,
            ground_truth=[],
            category="irrelevance",
        )
        assert bfcl_deduper.check(dialog).code == "D3"

    def test_D3_missing_data_is_a_clear_error(self, tmp_path, monkeypatch):
        monkeypatch.delenv("BFCL_DATA_DIR", raising=False)
        with pytest.raises(BFCLDataNotFound, match="--no-decontaminate"):
            Deduper(DedupConfig(bfcl_data_dir=str(tmp_path / "nowhere")))

    def test_D3_off_needs_no_data(self, tmp_path):
        assert Deduper(DedupConfig(decontaminate=False, bfcl_data_dir=str(tmp_path))).bfcl_size == 0


def test_deterministic_decisions():
    texts = [f"Find flights from city {i % 7} to city {(i * 3) % 5} next week, economy class" for i in range(40)]
    runs = []
    for _ in range(2):
        d = no_bfcl(near_cap=2)
        runs.append([(f.code, f.detail) if (f := d.check(sample(t, str(i)))) else None for i, t in enumerate(texts)])
    assert runs[0] == runs[1]
    assert any(r is not None for r in runs[0]) and any(r is None for r in runs[0])


def test_config_validation():
    with pytest.raises(ValueError, match="near_cap"):
        DedupConfig(near_cap=0)
    with pytest.raises(ValueError, match="unknown option"):
        DedupConfig.from_dict({"near_treshold": 0.9})
