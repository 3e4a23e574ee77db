"""dlra.io is the one atomic writer: every file the package writes gets the mode the umask gives a
new file, a failed write leaves neither a partial target nor a temporary."""
import os
import stat

import numpy as np
import pytest

from dlra import io as dio


@pytest.fixture
def umask():
    def set_(mask):
        os.umask(mask)
    old = os.umask(0o022)
    yield set_
    os.umask(old)


def _writers(tmp_path):
    from matplotlib.figure import Figure

    from dlra.data.mnist import save_idx
    from dlra.diagnostics.sweep import to_csv
    from dlra.plotting import save

    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1])
    yield "csv", lambda p: dio.write_csv(p / "a.csv", [{"x": 1}]) or [p / "a.csv"]
    yield "npz", lambda p: dio.save_npz(p / "a.npz", x=np.zeros(2)) or [p / "a.npz"]
    yield "text", lambda p: dio.write_text(p / "a.txt", "hi") or [p / "a.txt"]
    yield "plotting.save", lambda p: save(fig, p / "fig", formats=("png",))
    yield "sweep.to_csv", lambda p: [to_csv([{"h": 0.1}], p / "s.csv")]
    yield "save_idx", lambda p: [save_idx(p / "x.idx.gz", np.zeros((2, 2), np.uint8))]


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_every_writer_honours_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    for name, write in _writers(tmp_path):
        for path in write(tmp_path):
            assert stat.S_IMODE(os.stat(path).st_mode) == mode, (name, oct(os.stat(path).st_mode))
    assert not list(tmp_path.glob(".*.tmp"))


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    dio.write_text(target, "old")
    with pytest.raises(RuntimeError):
        with dio.atomic_open(target) as handle:
            handle.write("new, half")
            raise RuntimeError("crash during the write")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_remove_stale_temporaries_touches_only_its_own_names(tmp_path):
    for name in (".ck.npz.abc.tmp", ".ck.npz.def.tmp", ".other.npz.abc.tmp", "ck.npz.tmp", "ck.npz"):
        (tmp_path / name).write_text("x")
    removed = dio.remove_stale_temporaries(tmp_path / "ck.npz")
    assert sorted(p.name for p in removed) == [".ck.npz.abc.tmp", ".ck.npz.def.tmp"]
    assert sorted(os.listdir(tmp_path)) == [".other.npz.abc.tmp", "ck.npz", "ck.npz.tmp"]
    assert dio.remove_stale_temporaries(tmp_path / "missing" / "ck.npz") == []


class _Terminal:
    """A stream that says it is a terminal and records what is written."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_bars_draw_only_on_a_terminal(capsys, tmp_path):
    from dlra.nn import MLP, Trainer
    from dlra.progress import progress_bar

    assert list(progress_bar(range(3))) == [0, 1, 2]
    terminal = _Terminal()
    for _ in progress_bar(range(3), file=terminal):
        pass
    assert "\r" in terminal.text and "3/3" in terminal.text
    quiet = _Terminal()
    list(progress_bar(range(3), enabled=False, file=quiet))
    assert quiet.text == ""
    # a trainer asked for a bar writes nothing into a redirected stderr (a log file)
    rng = np.random.default_rng(0)
    data = {"x_train": rng.standard_normal((40, 6)).astype(np.float32), "y_train": rng.integers(0, 3, 40)}
    Trainer(MLP.from_sizes([6, 5, 3], ranks=[2, None], rng=0), batch_size=10, progress=True).fit(data, 1)
    captured = capsys.readouterr()
    assert "\r" not in captured.err + captured.out
