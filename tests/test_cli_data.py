"""``ftstudio data validate|stats|convert|split`` on real files, in process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ftstudio.cli import main
from ftstudio.core.dataset.split import load_split

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "resources" / "sample_project" / "datasets" / "it_support.jsonl"
PREFERENCES = REPO / "resources" / "sample_project" / "datasets" / "preferences.jsonl"


def chat(user: str, answer: str, **extra: Any) -> str:
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return json.dumps({"messages": messages, **extra})


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    """Two good examples, then a blank line and four problems (lines 4-7)."""
    lines = [
        chat("How do I reset my password?", "Use the portal.", tags=["accounts"]),
        chat("VPN drops every hour.", "Update the client.", tags=["network"]),
        "",
        '{"messages": [{"role": "user", "content": "Hi"}',
        json.dumps({"messages": [{"role": "user", "content": "only a question"}]}),
        chat("How do I reset my password?", "Use the portal."),
        json.dumps(
            {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": " "}]}
        ),
    ]
    path = tmp_path / "support.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---------------------------------------------------------------------------- validate
def test_validate_lists_every_issue_at_its_line(bad_file: Path, capsys) -> None:
    code, out, _ = run(capsys, "data", "validate", str(bad_file))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"{bad_file}:4: error invalid_json: Not valid JSON")
    assert lines[1] == (
        f"{bad_file}:5: error example_missing_assistant_message messages: The example has no "
        'assistant turn, so there is nothing to learn. Add the answer as {"role": "assistant", '
        '"content": "..."}.'
    )
    assert lines[2].startswith(
        f"{bad_file}:6: warning duplicate_example: This example repeats line 1"
    )
    assert lines[3].startswith(f"{bad_file}:7: warning empty_content messages[1].content: ")
    assert lines[4] == (
        f"{bad_file}: chat, 6 examples, 4 valid; 2 errors and 2 warnings in 4 examples."
    )
    assert "4 usable examples: below the minimum of 50–100" in lines[5]
    assert len(lines) == 7  # nothing about the blank line 3


def test_validate_json_report(bad_file: Path, capsys) -> None:
    code, out, _ = run(capsys, "data", "validate", str(bad_file), "--json")
    assert code == 1
    report = json.loads(out)
    assert set(report) == {"ok", "format", "examples", "issues", "stats"}
    assert report["ok"] is False
    assert report["format"] == "chat"
    assert report["examples"] == 4
    assert [(i["line"], i["code"], i["severity"]) for i in report["issues"]] == [
        (4, "invalid_json", "error"),
        (5, "example_missing_assistant_message", "error"),
        (6, "duplicate_example", "warning"),
        (7, "empty_content", "warning"),
    ]
    assert set(report["issues"][0]) == {"line", "code", "severity", "field", "message"}
    stats = report["stats"]
    assert stats["usable"] == 4
    assert stats["band"]["name"] == "below_minimum"
    assert stats["tags"] == {"accounts": 1, "network": 1}
    assert stats["exact_duplicates"] == [[0, 4]]  # record indices (line 4 is record 2)
    assert stats["exact_duplicate_lines"] == [[1, 6]]


def test_validate_a_clean_file_and_other_kinds(capsys) -> None:
    code, out, _ = run(capsys, "data", "validate", str(SAMPLE))
    assert code == 0
    assert "chat, 77 examples, 77 valid; 0 errors and 0 warnings." in out
    assert "77 usable examples: at the low end of the minimum of 50–100" in out
    assert "Add 23 more to pass the minimum" in out
    code, out, _ = run(capsys, "data", "validate", str(PREFERENCES), "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["ok"], report["format"], report["issues"]) == (True, "preference", [])


def test_validate_with_a_forced_format(tmp_path: Path, capsys) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"prompt": "2+2?", "completion": "4"}) + "\n")
    code, out, _ = run(capsys, "data", "validate", str(path), "--format", "chat", "--json")
    assert code == 1
    assert [i["code"] for i in json.loads(out)["issues"]] == ["missing_messages_list"]
    assert run(capsys, "data", "validate", str(path), "--format", "completion")[0] == 0


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p / "missing.jsonl", "does not exist"),
        (lambda p: p, "folder"),
        (lambda p: _write(p / "blob.jsonl", b"\x00\x01\x02binary\x00"), "not"),
    ],
)
def test_an_unreadable_file_exits_2(tmp_path: Path, capsys, make, words: str) -> None:
    path = make(tmp_path)
    code, out, err = run(capsys, "data", "validate", str(path))
    assert code == 2
    assert out == ""
    assert err.startswith(f"ftstudio: Cannot read {path}")
    assert words in err


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_max_length_needs_a_tokenizer(bad_file: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "validate", str(bad_file), "--max-length", "64"])
    assert exit_info.value.code == 2
    assert "--max-length needs --tokenizer" in capsys.readouterr().err


def test_exit_codes_from_a_real_process_without_loading_torch(bad_file: Path) -> None:
    script = (
        "import sys\nfrom ftstudio.cli import main\n"
        "codes = [main(['data', 'validate', p]) for p in sys.argv[1:]]\n"
        "print(codes, 'torch' in sys.modules, 'transformers' in sys.modules)\n"
        "sys.exit(codes[1])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(SAMPLE), str(bad_file), str(bad_file.parent / "no")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1] == "[0, 1, 2] False False"


# ---------------------------------------------------------------------------- stats
def test_stats_text_and_json(bad_file: Path, capsys) -> None:
    code, out, _ = run(capsys, "data", "stats", str(SAMPLE))
    assert code == 0
    assert "77 examples: 77 usable" in out
    assert "Turns per example: min 3" in out
    assert "Tags: windows 22, accounts 16" in out
    assert "System prompts: 1 distinct" in out
    code, out, _ = run(capsys, "data", "stats", str(bad_file), "--json")
    assert code == 0
    stats = json.loads(out)
    assert (stats["records"], stats["usable"], stats["unparseable"]) == (6, 4, 1)
    assert stats["turns"] == {"count": 4, "min": 2, "mean": 2.0, "median": 2, "p95": 2, "max": 2}
    assert stats["example_tokens"] is None


# ---------------------------------------------------------------------------- convert
def test_convert_chat_to_csv_and_back(tmp_path: Path, capsys) -> None:
    source = tmp_path / "chat.jsonl"
    source.write_text(
        chat("Printer says offline, what now?", 'Check the cable, then "restart" it.')
        + "\n"
        + chat("Line one\nline two, with a comma", "ok")
        + "\n"
    )
    table = tmp_path / "table.csv"
    code, out, _ = run(capsys, "data", "convert", str(source), str(table))
    assert code == 0
    assert f"Wrote 2 examples from {source} (chat) to {table} (csv)." in out
    back = tmp_path / "back.jsonl"
    assert run(capsys, "data", "convert", str(table), str(back), "--to", "chat")[0] == 0
    messages = [
        [(m["role"], m["content"]) for m in json.loads(line)["messages"]]
        for line in back.read_text().splitlines()
    ]
    assert messages == [
        [
            ("user", "Printer says offline, what now?"),
            ("assistant", 'Check the cable, then "restart" it.'),
        ],
        [("user", "Line one\nline two, with a comma"), ("assistant", "ok")],
    ]


def test_convert_to_openai_and_completion(bad_file: Path, tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(
        chat("a?", "b.", tags=["t"], note="keep out of OpenAI")
        + "\n"
        + chat("c?", "d.", review="rejected")
        + "\n"
    )
    openai = tmp_path / "openai.jsonl"
    code, out, _ = run(capsys, "data", "convert", str(good), str(openai), "--to", "openai")
    assert code == 0
    assert "Wrote 1 example" in out
    assert "1 example left out" in out
    assert json.loads(openai.read_text()) == {
        "messages": [{"role": "user", "content": "a?"}, {"role": "assistant", "content": "b."}]
    }
    completion = tmp_path / "completion.jsonl"
    assert run(capsys, "data", "convert", str(good), str(completion), "--to", "completion")[0] == 0
    first = json.loads(completion.read_text().splitlines()[0])
    assert (first["prompt"], first["completion"]) == ("a?", "b.")


def test_convert_refuses_what_it_cannot_write(bad_file: Path, capsys) -> None:
    before = bad_file.read_bytes()
    code, _, err = run(capsys, "data", "convert", str(bad_file), str(bad_file), "--to", "chat")
    assert code == 2
    assert "is the input file" in err
    code, _, err = run(capsys, "data", "convert", str(bad_file), str(bad_file.with_suffix(".csv")))
    assert code == 1
    assert "line 4" in err
    assert bad_file.read_bytes() == before
    assert not bad_file.with_suffix(".csv").exists()


# ---------------------------------------------------------------------------- split
def test_split_writes_the_split_file_and_keeps_it_stable(tmp_path: Path, capsys) -> None:
    path = tmp_path / "data.jsonl"
    tags = ["billing", "network", "accounts"]
    path.write_text(
        "".join(
            chat(f"Question {n}?", f"Answer {n}.", tags=[tags[n % 3]]) + "\n" for n in range(300)
        )
    )
    code, out, _ = run(capsys, "data", "split", str(path), "--val-fraction", "0.2", "--seed", "5")
    assert code == 0
    assert "training and" in out
    assert out.splitlines()[1].split() == ["tag", "train", "val"]
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:5]}
    assert set(rows) == set(tags)
    assert sum(int(v) for _, v in rows.values()) + sum(int(t) for t, _ in rows.values()) == 300
    assert f"Saved the split to {path}.split.json." in out
    first = load_split(path)
    assert (first.seed, first.val_fraction, first.stratify) == (5, 0.2, True)

    with path.open("a") as handle:  # add 100 examples; nothing earlier may move
        for n in range(300, 400):
            handle.write(chat(f"Question {n}?", f"Answer {n}.", tags=[tags[n % 3]]) + "\n")
    assert run(capsys, "data", "split", str(path), "--val-fraction", "0.2", "--seed", "5")[0] == 0
    second = load_split(path)
    assert first.val_keys < second.val_keys


def test_split_rejects_a_bad_fraction(bad_file: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["data", "split", str(bad_file), "--val-fraction", "1.5"])
    assert "between 0 and 1" in capsys.readouterr().err


# ---------------------------------------------------------------------------- tokenizer
@pytest.mark.slow
def test_validate_and_stats_with_the_tiny_models_tokenizer(
    tiny_model_dir: Path, tmp_path: Path, capsys
) -> None:
    from ftstudio.engine.chat_mask import ChatTemplateTokenizer, load_tokenizer

    question = " ".join(["My laptop will not start after the update, what should I try?"] * 3)
    data = {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": "Hold the power button for ten seconds."},
        ]
    }
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps(data) + "\n")
    example = ChatTemplateTokenizer(load_tokenizer(tiny_model_dir)).tokenize_example(data)
    first_trained = example.trained.index(True)
    total = len(example.ids)

    base = ["data", "validate", str(path), "--tokenizer", str(tiny_model_dir), "--json"]
    code, out, _ = run(capsys, *base, "--max-length", str(total))
    assert (code, json.loads(out)["issues"]) == (0, [])

    code, out, _ = run(capsys, *base, "--max-length", str(first_trained + 1))
    [issue] = json.loads(out)["issues"]
    assert (code, issue["code"], issue["severity"]) == (0, "too_long", "warning")
    assert f"{total} tokens long" in issue["message"]

    code, out, _ = run(capsys, *base, "--max-length", str(first_trained))
    report = json.loads(out)
    [issue] = report["issues"]
    assert (code, issue["code"], issue["severity"], issue["line"]) == (1, "too_long", "error", 1)
    assert report["examples"] == 0
    assert report["stats"]["example_tokens"]["max"] == total  # stats are still measured

    code, out, _ = run(capsys, "data", "stats", str(path), "--tokenizer", str(tiny_model_dir))
    assert code == 0
    assert f"Tokens per example: min {total}" in out
    assert f"Trained tokens per example: min {example.trained_count}" in out


def test_a_folder_without_a_tokenizer_exits_2(bad_file: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "data", "validate", str(bad_file), "--tokenizer", str(tmp_path))
    assert code == 2
    assert err.startswith(f"ftstudio: --tokenizer {tmp_path}: ")
    assert "no tokenizer" in err


def test_the_parsers_format_list_matches_the_readers() -> None:
    from ftstudio.cli import DATA_FORMATS
    from ftstudio.core.dataset.formats import FORMATS

    assert DATA_FORMATS == FORMATS


@pytest.mark.slow
def test_data_preview_lists_trained_tokens(tiny_model_dir, capsys) -> None:
    sample = Path(__file__).resolve().parent.parent / "resources/sample_project/datasets"
    code = main(
        [
            "data",
            "preview",
            str(sample / "it_support.jsonl"),
            "--tokenizer",
            str(tiny_model_dir),
            "--index",
            "1",
            "--max-length",
            "64",
            "--json",
        ]
    )
    assert code == 0
    preview = json.loads(capsys.readouterr().out)
    trained = "".join(t["token"] for t in preview["tokens"] if t["trained"])
    record = json.loads((sample / "it_support.jsonl").read_text().splitlines()[1])
    answers = [m["content"] for m in record["messages"] if m["role"] == "assistant"]
    assert trained == "".join(f"{a}<|end|>" for a in answers)
    assert preview["count"] == len(preview["tokens"]) > 64
    assert preview["truncated"] == preview["count"] - 64
    assert (
        main(
            [
                "data",
                "preview",
                str(sample / "it_support.jsonl"),
                "--tokenizer",
                str(tiny_model_dir),
                "--index",
                "999",
            ]
        )
        == 2
    )
    assert "--index must be 0 to" in capsys.readouterr().err


def test_data_preview_text_output(tiny_model_dir, capsys) -> None:
    sample = Path(__file__).resolve().parent.parent / "resources/sample_project/datasets"
    assert (
        main(
            [
                "data",
                "preview",
                str(sample / "it_support.jsonl"),
                "--tokenizer",
                str(tiny_model_dir),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("<s><|system|>")
    assert "trained (marked *)" in out


def test_data_preview_of_a_broken_line_says_so_on_stderr(tmp_path, tiny_model_dir, capsys) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"messages": [\n', encoding="utf-8")
    code, out, err = run(
        capsys, "data", "preview", str(path), "--tokenizer", str(tiny_model_dir), "--index", "0"
    )
    assert code == 1
    assert out == ""
    assert f"{path}, line 1: this example cannot be parsed" in err
