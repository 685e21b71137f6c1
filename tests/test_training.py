"""Tiles, the pulsed update, its known fixed point, the MNIST loader, reproducibility and the CLI."""

import gzip
import shutil

import numpy as np
import pytest
import xarray as xr

from xbarsim.circuits import Crossbar
from xbarsim.cli import main
from xbarsim.devices import LinearStepDevice, get_preset
from xbarsim.export import training_dataset, write_netcdf
from xbarsim.training import (AlgorithmConfig, AnalogArray, DataFileError, Periphery, TrainConfig, UpdateConfig,
                              load_mnist, pulse_counts, train)
from xbarsim.training.datasets import MNIST_SHA256, default_data_dir


def test_pulse_counts_deliver_the_requested_update_on_average(rng):
    x = np.array([[0.2, -0.5, 1.0]])
    d = np.array([[0.3, -0.1]])
    lr, dw, cfg = 0.02, 0.001, UpdateConfig(bl=31)
    mean = np.mean([pulse_counts(x, d, lr, dw, cfg, rng)[0] for _ in range(4000)], axis=0)
    np.testing.assert_allclose(mean * dw, -lr * np.outer(x[0], d[0]), rtol=0.05, atol=2e-4)


def test_analog_sgd_settles_at_the_biased_fixed_point():
    """ALGORITHMS.md section 3: E = (w - 0.5)^2 / 2, gradient noise std 1, soft bounds tau = 1: analog SGD
    settles at 0.5 / (1 + E|g|) = 0.278 (E|g| ~ 0.798), not at the optimum 0.5; without noise it reaches 0.5."""
    dev = LinearStepDevice(dw_min=1e-4, w_max=1.0, w_min=-1.0, gamma_up=1.0, gamma_down=1.0)
    cfg = UpdateConfig(bl=31)
    for noise, target, tol in ((1.0, 0.278, 0.015), (0.0, 0.5, 0.01)):
        rng = np.random.default_rng(5)
        arr = AnalogArray(dev, (1, 400), circuit=None, periphery=Periphery(), rng=rng)
        tail = []
        for step in range(12000):
            g = (arr.weights[0] - 0.5) + noise * rng.standard_normal(400)
            arr.update(np.ones((1, 1)), g[None, :], 0.001, cfg, rng)
            if step >= 8000:
                tail.append(arr.weights[0].mean())
        assert np.mean(tail) == pytest.approx(target, abs=tol)


def test_ideal_read_is_the_matrix_product_and_ir_drop_weakens_it(rng):
    dev = get_preset("reram-hfo2")
    ideal = AnalogArray(dev, (40, 12), circuit=None, periphery=Periphery(), rng=np.random.default_rng(0))
    ideal.program(rng.uniform(0, 0.5, (40, 12)))
    w = ideal.weights  # as programmed: clipped to each device's own bounds
    x = rng.uniform(0, 1, (5, 40))
    np.testing.assert_allclose(ideal.forward(x, rng), x @ w, rtol=1e-12)
    np.testing.assert_allclose(ideal.backward(x[:, :12], rng), x[:, :12] @ w.T, rtol=1e-12)
    tiny = Crossbar(1, 1, r_row_ohm=1e-9, r_col_ohm=1e-9, r_driver_ohm=1e-9, r_sense_ohm=1e-9)
    near = AnalogArray(dev, (40, 12), circuit=tiny, periphery=Periphery(), rng=np.random.default_rng(0))
    near.program(w)
    np.testing.assert_allclose(near.forward(x, rng), x @ w, rtol=1e-6)
    lossy = AnalogArray(dev, (40, 12), circuit=Crossbar(1, 1, r_row_ohm=5, r_col_ohm=5), periphery=Periphery(),
                        rng=np.random.default_rng(0))
    lossy.program(w)
    y = lossy.forward(x, rng)
    assert np.all(y < x @ w) and np.all(y > 0.3 * (x @ w))


def test_adjoint_backward_is_the_exact_jacobian_of_the_forward_read(rng):
    """Hardware-aware backward: d^T dy/dx of the forward circuit (checked by finite differences). With equal
    driver and sense resistance reciprocity makes it the physical transposed read; with unequal ones it is not."""
    dev = get_preset("reram-hfo2")
    w = rng.uniform(-0.5, 0.5, (30, 9))
    x = rng.uniform(0.2, 1, (4, 30))
    d = rng.standard_normal((4, 9))

    def arrays(circuit):
        out = []
        for backward in ("read", "adjoint"):
            a = AnalogArray(dev, w.shape, circuit=circuit, periphery=Periphery(backward=backward, rtol=1e-12),
                            rng=np.random.default_rng(0))
            a.program(w)
            a.forward(x, rng)
            out.append(a)
        return out

    read, adj = arrays(Crossbar(1, 1, r_row_ohm=4, r_col_ohm=2, r_driver_ohm=30, r_sense_ohm=30))
    np.testing.assert_allclose(adj.backward(d, rng), read.backward(d, rng), rtol=1e-8)
    read, adj = arrays(Crossbar(1, 1, r_row_ohm=4, r_col_ohm=2, r_driver_ohm=300, r_sense_ohm=3))
    z = adj.backward(d, rng)
    assert np.abs(z - read.backward(d, rng)).max() > 1e-3 * np.abs(z).max()
    dx = rng.standard_normal(x.shape) * 1e-4
    fd = ((adj.forward(x + dx, rng) - adj.forward(x - dx, rng)) * d).sum() / 2
    assert (z * dx).sum() == pytest.approx(fd, rel=1e-6)


def test_mnist_loads_and_verifies():
    d = load_mnist(train_size=100, test_size=50)
    assert d.x_train.shape == (100, 784) and d.x_test.shape == (50, 784)
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert d.y_train[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]
    assert load_mnist(downsample=2, train_size=10, test_size=10).x_train.shape == (10, 196)


def test_corrupt_or_missing_mnist_is_refused(tmp_path):
    for name in MNIST_SHA256:
        shutil.copy(default_data_dir() / f"{name}.gz", tmp_path / f"{name}.gz")
    target = tmp_path / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(target.read_bytes()))
    raw[100] ^= 0xFF
    target.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataFileError, match="t10k-labels-idx1-ubyte.gz is corrupt: sha256 of its content"):
        load_mnist(tmp_path)
    target.write_bytes(b"not a gzip file")
    with pytest.raises(DataFileError, match="is corrupt: not a readable gzip file"):
        load_mnist(tmp_path)
    target.unlink()
    with pytest.raises(DataFileError, match="MNIST file t10k-labels-idx1-ubyte not found"):
        load_mnist(tmp_path)


TINY = dict(hidden=(8,), epochs=2, train_size=200, test_size=100, batch_size=10, seed=7)


@pytest.mark.parametrize("alg", ["sgd", "shd", "tiki-taka"])
def test_same_seed_gives_an_identical_netcdf(tmp_path, alg):
    cfg = TrainConfig(algorithm=AlgorithmConfig.defaults(alg, zero_shift_pairs=500), circuit="ir-drop", **TINY)
    paths = []
    for k in range(2):
        paths.append(write_netcdf(training_dataset(train(cfg, progress=False)), tmp_path / f"run{k}.nc"))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    other = TrainConfig(algorithm=cfg.algorithm, circuit="ir-drop", **{**TINY, "seed": 8})
    ds0 = xr.open_dataset(paths[0])
    other_w = training_dataset(train(other, progress=False))["weight_layer0"].values
    assert not np.array_equal(ds0["weight_layer0"].values, other_w)


def test_shd_history_and_dataset_contents():
    cfg = TrainConfig(algorithm=AlgorithmConfig.defaults("shd", zero_shift_pairs=500), **TINY)
    ds = training_dataset(train(cfg, progress=False))
    for v in ("train_loss", "test_accuracy", "hamiltonian", "a_norm2", "g_layer0_a", "g_ref_layer0_a", "g_layer1_c"):
        assert v in ds
    assert ds["g_layer0_c"].attrs["units"] == "S" and ds["g_layer0_c"].shape == (197, 8)
    k = list(ds.attrs["hamiltonian_k"])
    np.testing.assert_allclose(ds.hamiltonian - ds.train_loss > 0, True)
    a = cfg.algorithm
    assert k[0] == pytest.approx(a.lr_transfer / (a.transfer_every * 197) / (2 * a.lr))
    assert ds.attrs["config.algorithm.name"] == "shd" and ds.attrs["config.device.name"] == "reram-hfo2"


def test_fp_learns_mnist():
    cfg = TrainConfig(algorithm=AlgorithmConfig.defaults("fp"), epochs=2, train_size=3000, test_size=1000)
    assert train(cfg, progress=False).history["test_accuracy"][-1] > 0.85


@pytest.mark.parametrize("args,message", [
    (["--device", "pcm"], "device='pcm' is not a known preset: allowed values are"),
    (["--epochs", "0"], "epochs=0 is invalid: must be an integer >= 1"),
    (["--r-wire-ohm", "0"], "--r-wire-ohm=0.0 is invalid: must be in [1e-09, 1e+12] Ohm"),
    (["--r-wire-ohm", "nan"], "--r-wire-ohm=nan is invalid"),
    (["--lr", "-1"], "lr=-1.0 is invalid: must be in (0, 1000]"),
    (["--hidden", "64,x"], "hidden='64,x' is invalid"),
    (["--train-size", "70000"], "train_size=70000 is invalid: must be an integer in [1, 60000]"),
])
def test_cli_bad_input_is_one_line_error(capsys, args, message):
    assert main(["train", "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("xbarsim: error: ") and message in err and "\n" not in err


def test_cli_train_writes_the_dataset(tmp_path, capsys):
    out = tmp_path / "run.nc"
    assert main(["train", "--quiet", "--algorithm", "sgd", "--epochs", "1", "--train-size", "100",
                 "--test-size", "50", "--hidden", "8", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "sgd" in text and "reram-hfo2" in text and "ir-drop" in text
    ds = xr.open_dataset(out)
    assert ds.test_accuracy.dims == ("epoch",) and "g_layer0_w" in ds
    assert not list(tmp_path.glob("*.tmp*"))


def _toy_run(name, lr, lr_transfer, steps, seed=3):
    """ALGORITHMS.md toy: E = (w - 0.5)^2 / 2 with gradient noise of std 1, soft-bounds devices (tau = 1),
    200 independent copies (output columns). The weight is the bias row of a 1-input layer."""
    dev = LinearStepDevice(dw_min=1e-4, w_max=1.0, w_min=-1.0, gamma_up=1.0, gamma_down=1.0)
    rng = np.random.default_rng(seed)
    cfg = AlgorithmConfig(name=name, lr=lr, lr_transfer=lr_transfer, transfer_every=1, zero_shift_pairs=200)
    from xbarsim.training import make_layer
    layer = make_layer(np.zeros((2, 200)), cfg, device=dev, circuit=None, periphery=Periphery(),
                       update_cfg=UpdateConfig(bl=31), rng=rng)
    x = np.zeros((1, 1))
    energy, tail = [], []
    for step in range(steps):
        y = layer.forward(x, rng)
        layer.update(x, (y - 0.5) + rng.standard_normal(y.shape), rng)
        if name == "shd" and step % 500 == 0:
            c, a = layer.c.weights[1], layer.a.weights[1]
            energy.append(np.mean((c - 0.5) ** 2 / 2 + layer.hamiltonian_k() * a ** 2))
        if step >= 3 * steps // 4:
            tail.append(layer.weights()[1].mean())
    return np.mean(tail), np.array(energy)


def test_shd_rests_at_the_true_minimum_where_sgd_is_biased():
    """SHD's asymmetric, zero-shifted A is friction: H = E(C) + k |A|^2 falls from 0.125 to the noise floor
    and C rests near the optimum 0.5 (ALGORITHMS.md: bias about -0.027 at these rates), while analog SGD on
    the same devices settles near 0.5 / (1 + E|g|) = 0.28."""
    w_shd, energy = _toy_run("shd", 0.02, 0.01, 8000)
    assert w_shd == pytest.approx(0.5, abs=0.04)
    assert energy[0] == pytest.approx(0.125, rel=1e-3) and energy[-4:].max() < 0.02 * energy[0]
    w_sgd, _ = _toy_run("sgd", 0.01, 0.01, 8000)
    assert w_sgd < 0.32


@pytest.mark.parametrize("args,message", [
    (["--gamma", "0.5"], "--gamma applies only to --algorithm tiki-taka"),
    (["--algorithm", "sgd", "--lr-transfer", "0.1"], "--lr-transfer applies only to --algorithm tiki-taka or shd"),
    (["--circuit", "ideal", "--r-wire-ohm", "2"], "--r-wire-ohm applies only to --circuit ir-drop"),
    (["--hidden", ""], "hidden='' is invalid"),
    (["--out", ""], "--out='' is invalid: must be a file name"),
])
def test_cli_refuses_options_that_would_be_ignored(capsys, args, message):
    assert main(["train", "--quiet", *args]) == 2
    assert message in capsys.readouterr().err


def test_cli_checks_the_output_path_before_training(tmp_path, capsys):
    for out, message in ((tmp_path, "it is a folder"), (tmp_path / "missing" / "x.nc", "does not exist")):
        assert main(["train", "--quiet", "--train-size", "60000", "--out", str(out)]) == 2  # fails at once
        assert message in capsys.readouterr().err


def test_written_files_are_atomic_and_readable_by_others(tmp_path):
    cfg = TrainConfig(algorithm=AlgorithmConfig.defaults("fp"), hidden=(4,), epochs=1, train_size=50, test_size=20)
    path = write_netcdf(training_dataset(train(cfg, progress=False)), tmp_path / "fp.nc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fp.nc"]
    assert path.stat().st_mode & 0o044  # the umask's permissions, not mkstemp's 0600


def test_train_checks_the_data_it_is_given():
    data = load_mnist(downsample=2, train_size=40, test_size=20)
    cfg = TrainConfig(algorithm=AlgorithmConfig.defaults("fp"), hidden=(4,), epochs=1, train_size=100, test_size=20)
    with pytest.raises(ValueError, match="train_size=100 is invalid: the data hold 40 train samples"):
        train(cfg, data, progress=False)
    small = TrainConfig(algorithm=cfg.algorithm, hidden=(4,), epochs=1, train_size=40, test_size=20, downsample=1)
    with pytest.raises(ValueError, match=r"x_train has shape \(40, 196\): expected \(40, 784\)"):
        train(small, data, progress=False)
    with pytest.raises(ValueError, match=r"device=3 is invalid: must be a device model \(PulsedDevice\)"):
        TrainConfig(device=3)


def test_pulse_counts_do_not_overflow_at_long_trains(rng):
    counts = pulse_counts(np.ones((1, 2)), -np.ones((1, 2)), 1e3, 1e-3, UpdateConfig(bl=1000), rng)
    assert counts.min() == 1000 and counts.max() == 1000
    with pytest.raises(ValueError, match=r"bl=40000 is invalid: must be an integer in \[1, 1000\]"):
        UpdateConfig(bl=40000)


def test_corrupt_gzip_stream_is_a_data_error(tmp_path):
    for name in MNIST_SHA256:
        shutil.copy(default_data_dir() / f"{name}.gz", tmp_path / f"{name}.gz")
    target = tmp_path / "train-labels-idx1-ubyte.gz"
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2: len(raw) // 2 + 64] = bytes(64)
    target.write_bytes(bytes(raw))
    with pytest.raises(DataFileError, match="is corrupt"):
        load_mnist(tmp_path)


def test_combined_study_keeps_units_and_names():
    from xbarsim.export import combine_runs
    runs = {}
    for alg in ("fp", "sgd"):
        cfg = TrainConfig(algorithm=AlgorithmConfig.defaults(alg), hidden=(4,), epochs=1, train_size=30, test_size=10)
        runs[alg] = training_dataset(train(cfg, progress=False))
    ds = combine_runs(runs)
    assert list(ds.algorithm.values) == ["fp", "sgd"] and ds.test_accuracy.dims == ("algorithm", "epoch")
    assert ds["sgd_g_layer0_w"].attrs["units"] == "S" and ds["test_accuracy"].attrs["units"] == "1"
    assert ds.attrs["sgd.config.algorithm.name"] == "sgd"


def test_output_paths_that_an_atomic_write_would_break_are_refused(tmp_path, capsys):
    """A device node would be replaced by a regular file; a name too long for the temporary file fails late."""
    for out, message in (("/dev/null", "is not a regular file"), (str(tmp_path / ("x" * 250 + ".nc")),
                                                                    "the file name is 253 bytes")):
        assert main(["train", "--epochs", "1", "--train-size", "10", "--quiet", "--out", out]) == 2
        assert message in capsys.readouterr().err
    assert main(["demo", "--out-dir", str(tmp_path / "missing" / "deeper")]) == 2
    assert "parent folder" in capsys.readouterr().err


def test_numpy_integers_and_bad_types_where_configuration_enters():
    assert TrainConfig(seed=np.int64(3)).seed == 3
    with pytest.raises(ValueError, match="data_dir=3 is invalid"):
        load_mnist(3)
    with pytest.raises(ValueError, match="data=str is invalid"):
        train(TrainConfig(epochs=1, train_size=10, test_size=10), "not a dataset")
