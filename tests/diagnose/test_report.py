"""The HTML report: parses, has every section and image, works from a run dir or objects."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from _diag_nets import MSELoss, ReLU, mlp, sgd_step

import chainrule as cr
from chainrule import diagnose
from chainrule.diagnose.html_report import SECTIONS


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.imgs: list[str] = []
        self.svgs = 0
        self.h2: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id", ""))
        elif tag == "img":
            self.imgs.append(a.get("src", ""))
        elif tag == "svg":
            self.svgs += 1
        elif tag == "h2":
            self._in_h2 = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.h2.append(data)


def _parse(path: Path) -> _Collect:
    c = _Collect()
    c.feed(path.read_text(encoding="utf-8"))
    c.close()
    return c


def _monitor_and_model():
    model = mlp([16, 12, 3], ReLU)
    x = cr.randn(40, 16)
    labels = np.arange(40) % 3
    y = cr.tensor(np.eye(3, dtype=np.float32)[labels])
    mon = diagnose.GradientHealthMonitor(model)
    for step in range(5):
        loss = MSELoss()(model(x), y)
        model.zero_grad()
        loss.backward()
        mon.on_backward(model, step, loss)
        sgd_step(model, 0.1)
        mon.on_step(model, step)
    mon.detach()
    return model, (x, cr.tensor(labels)), mon


def _write_run(run: Path) -> None:
    run.mkdir()
    (run / "history.csv").write_text(
        "epoch,loss,accuracy,val_loss,val_accuracy,lr\n"
        "1,1.2,0.5,1.1,0.55,0.1\n2,0.8,0.7,0.9,0.65,0.1\n3,0.5,0.85,0.7,0.75,0.1\n"
    )
    meta = {"task": "toy", "model": "mlp", "seed": 42, "test": {"loss": 0.7, "accuracy": 0.74}}
    (run / "run.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("images", ["png", "svg"])
def test_report_from_objects_has_every_section_and_image(tmp_path: Path, images: str) -> None:
    if images == "png":
        pytest.importorskip("matplotlib")
    model, data, mon = _monitor_and_model()
    hist = {"epoch": [1, 2, 3], "loss": [1.0, 0.6, 0.4], "accuracy": [0.4, 0.6, 0.8]}
    out = diagnose.write_report(
        hist, tmp_path / "r.html", model=model, data=data, health=mon,
        config={"lr": 0.1, "epochs": 3}, seed=7, images=images,
    )  # fmt: skip
    c = _parse(out)
    assert c.sections == list(SECTIONS)
    assert len(c.h2) == len(SECTIONS)
    text = out.read_text()
    assert "seed: 7" in text and "Verdicts" in text
    assert "examples, accuracy" in text  # confusion matrix computed from model + data
    if images == "png":
        assert all(s.startswith("data:image/png;base64,") for s in c.imgs)
        # curves (loss, metric), health timeline + flow, confusion, 3+ saliency maps
        assert len(c.imgs) >= 8
    else:
        assert not c.imgs and c.svgs >= 6
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # self-contained


def test_report_from_run_dir(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write_run(run)
    (run / "health.json").write_text(json.dumps({"verdicts": [
        {"kind": "exploding", "layers": ["fc1"], "evidence": "norm grew 1e4x",
         "advice": "lower the learning rate"}],
        "timeline": [{"step": 0, "grad_norm": 1.0}, {"step": 1, "grad_norm": 1e4}]}))  # fmt: skip
    out = diagnose.report(run, output=None)
    assert out == run / "report.html"
    c = _parse(out)
    assert c.sections == list(SECTIONS)
    text = out.read_text()
    assert "seed: 42" in text and "EXPLODING" in text and "test accuracy" in text
    assert "No confusion matrix" in text  # toy task: model cannot be rebuilt, says why


def test_report_reads_saved_health_json(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write_run(run)
    model, data, mon = _monitor_and_model()
    mon.report().save(run / "health.json")
    text = diagnose.report(run, images="svg").read_text()
    assert "gradient-health timeline" in text and "Verdicts" in text


def test_report_trainer_calling_convention(tmp_path: Path) -> None:
    class H:
        def to_dict(self):
            return {"loss": [1.0, 0.5]}

    out = diagnose.write_report(str(tmp_path / "t.html"), model=None, history=H())
    assert _parse(out).sections == list(SECTIONS)


def test_report_bad_input(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"history\.csv or history\.json.*notes\.txt"):
        diagnose.report(empty)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        diagnose.report(tmp_path / "nope")
    with pytest.raises(ValueError, match="images"):
        diagnose.write_report({"loss": [1.0]}, tmp_path / "x.html", images="gif")
