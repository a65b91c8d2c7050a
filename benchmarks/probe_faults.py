"""Fault probes: run the command-line tools as a careful user would break them, print "probe -> result".

    python benchmarks/probe_faults.py            # every probe (a few minutes on 2 CPU cores)
    python benchmarks/probe_faults.py --quick    # without the real-network determinism probes
    python benchmarks/probe_faults.py --only messages weights

Each probe states what it does and what came out (exit code, the first line of stderr, the check made),
and ends with "ok" or "UNEXPECTED"; the exit code is the number of unexpected results. Probes that need
root (a tiny tmpfs for a genuinely full disk) say "skipped" elsewhere. Images come from the shared
reference data (``$ELPIPS_SHARED_DIR`` or ``../shared`` beside the checkout) and temporary files.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ELPIPS_SHARED_DIR", REPO.parent / "shared"))
SMALL = SHARED / "data" / "elpips_inputs" / "small"
CAT, DOG = str(SMALL / "cat64.png"), str(SMALL / "dog64.png")
if (SHARED / "weights" / "elpips").is_dir():
    os.environ.setdefault("ELPIPS_WEIGHTS_DIR", str(SHARED / "weights" / "elpips"))
unexpected = 0


def tool(*argv: str, limit_fsize: int | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    def limits():
        if limit_fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, resource.RLIM_INFINITY))

    return subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          preexec_fn=limits)


def said_before(start: str, *argv: str) -> str:
    """Run a tool until it says a line that begins ``start`` (then interrupt it): that line, or what it said last."""
    process = subprocess.Popen([sys.executable, "-m", *argv], stderr=subprocess.PIPE, text=True, cwd=REPO,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a background
    # shell's job starts with SIGINT ignored, and Python then keeps it ignored
    last = "(nothing)"
    for line in process.stderr:
        last = line.split(": ", 1)[-1].strip()
        if last.startswith(start):
            process.send_signal(signal.SIGINT)
            break
    process.communicate(timeout=300)
    return last


def first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(nothing)"


def report(probe: str, result: str, ok: bool) -> None:
    global unexpected
    unexpected += not ok
    print(f"{probe} -> {result} [{'ok' if ok else 'UNEXPECTED'}]", flush=True)


def expect_refusal(probe: str, done: subprocess.CompletedProcess, needles: list[str], code: int = 2,
                   seconds: float | None = None) -> None:
    line = first_line(done.stderr)
    ok = done.returncode == code and "Traceback" not in done.stderr and all(n in done.stderr for n in needles)
    timing = f" after {seconds:.1f} s" if seconds is not None else ""
    report(probe, f"exit {done.returncode}{timing}: {line}", ok)


def digest_folder(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.png")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# ------------------------------------------------------------------------------------------ the probes


def outputs(work: Path) -> None:
    blocker = work / "a-file"
    blocker.write_text("")
    started = time.perf_counter()
    done = tool("geometry.tools.geodesic", CAT, DOG, "--out", str(blocker / "out"))
    expect_refusal("--out below a file (unwritable), before any network is loaded", done,
                   ["is a file, not a folder"], seconds=time.perf_counter() - started)

    out = work / "fsize"
    started = time.perf_counter()
    done = tool("geometry.tools.geodesic", CAT, DOG, "--frames", "3", "--size", "64", "--steps", "2", "--out", str(out),
                limit_fsize=20000)
    expect_refusal("prlimit --fsize=20000 (the issue's command): refused up front", done,
                   ["file size limit (ulimit -f) is 20000 bytes"], seconds=time.perf_counter() - started)
    report("  ... and the output folder", "not created" if not out.exists() else "exists", not out.exists())

    frames_blocked = work / "frames-blocked"
    frames_blocked.mkdir()
    (frames_blocked / "frames").write_text("in the way")
    fast = ["--distance", "l2", "--size", "32", "--steps", "5", "--frames", "4", "--no-progress"]
    done = tool("geometry.tools.geodesic", CAT, DOG, *fast, "--out", str(frames_blocked))
    expect_refusal("frames cannot be written after the optimisation", done, ["errno", "--resume"], code=1)
    kept = (frames_blocked / "checkpoint.pt").is_file()
    report("  ... the finished optimisation", "kept in checkpoint.pt" if kept else "lost", kept)
    (frames_blocked / "frames").unlink()
    done = tool("geometry.tools.geodesic", CAT, DOG, *fast, "--out", str(frames_blocked), "--resume")
    frames = len(list((frames_blocked / "frames").glob("*.png")))
    report("  ... --resume after removing the obstacle", f"exit {done.returncode}, {frames} frames",
           done.returncode == 0 and frames == 4)
    full_disk(work)


def full_disk(work: Path) -> None:
    """A real ENOSPC mid-run: a 1 MB tmpfs that a filler fills once the first checkpoint exists."""
    disk = work / "tmpfs"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        report("disk full in the middle of a run (tmpfs)", "skipped: mounting a tmpfs needs root", True)
        return
    try:
        out = disk / "out"
        argv = ["geometry.tools.geodesic", CAT, DOG, "--frames", "4", "--size", "64", "--steps", "6",
                "--checkpoint-every", "1", "--no-progress"]
        filler = disk / "filler"

        def fill() -> None:
            deadline = time.monotonic() + 600
            while not (out / "checkpoint.pt").is_file() and time.monotonic() < deadline:
                time.sleep(0.05)
            try:
                with open(filler, "wb") as handle:
                    while True:
                        handle.write(b"\0" * 65536)
            except OSError:
                pass  # the disk is full now

        thread = threading.Thread(target=fill)
        thread.start()
        done = tool(*argv, "--out", str(out))
        thread.join()
        expect_refusal("disk full in the middle of a run (ENOSPC on a tmpfs)", done,
                       ["cannot write the checkpoint", "errno 28 ENOSPC", "is kept", "--resume"], code=1)
        report("  ... the output folder and its last checkpoint", "kept" if (out / "checkpoint.pt").is_file()
               else "missing", (out / "checkpoint.pt").is_file())
        filler.unlink()
        resumed = tool(*argv, "--out", str(out), "--resume")
        reference = tool(*argv, "--out", str(work / "uninterrupted"))
        same = digest_folder(out / "frames") == digest_folder(work / "uninterrupted" / "frames")
        report("  ... --resume after freeing space, against an uninterrupted run",
               f"exit {resumed.returncode}/{reference.returncode}, frames {'identical' if same else 'DIFFERENT'}",
               resumed.returncode == 0 and reference.returncode == 0 and same)
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def memory(work: Path) -> None:
    for size in ("100000", "3000"):
        started = time.perf_counter()
        done = tool("geometry.tools.geodesic", CAT, DOG, "--size", size, "--out", str(work / f"size{size}"))
        expect_refusal(f"--size {size}: refused before any network is loaded", done,
                       ["needs about", "use --size", "--max-memory"], seconds=time.perf_counter() - started)
    import imageio.v3 as iio
    import numpy as np

    big = work / "big.png"
    iio.imwrite(big, np.random.default_rng(0).integers(0, 255, (3000, 3000, 3), dtype=np.uint8))
    for metric in ("elpips_vgg", "lpips_vgg"):
        done = tool("elpips", "distance", str(big), str(big), "--distance", metric, "--max-memory", "4GB")
        expect_refusal(f"elpips distance on 3000x3000 images with {metric}, --max-memory 4GB", done,
                       ["needs about", "downscale the images to"])
    medium = work / "medium.png"
    iio.imwrite(medium, np.random.default_rng(1).integers(0, 255, (128, 128, 3), dtype=np.uint8))
    started = time.perf_counter()
    done = tool("elpips", "distance", str(medium), str(medium), "-n", "20", "--device", "cpu")
    seconds = time.perf_counter() - started
    shown = "draw/s" in done.stderr or "s/draw" in done.stderr
    report(f"elpips distance -n 20 at 128 px ({seconds:.0f} s): a progress bar on stderr after 2 s",
           "shown" if shown else f"none ({first_line(done.stderr)})", done.returncode == 0 and (shown or seconds < 3))


def inputs(work: Path) -> None:
    import torch

    import elpips

    metric = elpips.load_metric("lpips_vgg")
    x, y = torch.rand(2, 1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    try:
        metric(x * 2 - 1, y)
        report("metric(x * 2 - 1, y) with the default input_range", "a distance, no complaint", False)
    except ValueError as error:
        report("metric(x * 2 - 1, y) with the default input_range", f"ValueError: {error}", "[-1,1]" in str(error))
    same = torch.equal(metric(x.double(), y.double()), metric(x, y))
    report("float64 inputs", "converted: the same distance as float32" if same else "different", same)
    near = torch.allclose(metric(x.half(), y.half()), metric(x, y), rtol=1e-2)
    report("float16 inputs", "converted: the float32 distance within half's rounding" if near else "far off", near)
    try:
        metric((x * 255).to(torch.uint8), y)
        report("uint8 tensor given to the metric", "accepted", False)
    except ValueError as error:
        report("uint8 tensor given to the metric", f"ValueError: {error}", "as_image_batch" in str(error))


def messages(work: Path) -> None:
    fast = ["--distance", "l2", "--size", "32", "--steps", "3", "--no-progress"]
    for device in ("banana", "mps", "cuda"):
        done = tool("geometry.tools.geodesic", CAT, DOG, *fast, "--device", device, "--out", str(work / "d"))
        import torch

        if device == "cuda" and torch.cuda.is_available():
            report("--device cuda", "CUDA is available here: not a fault", True)
            continue
        expect_refusal(f"--device {device}", done, ["--device", "device"])
    done = tool("geometry.tools.average", CAT, DOG, *fast, "--seed", str(2**70), "--out", str(work / "s"))
    expect_refusal("--seed 2**70", done, ["invalid seed"])
    done = tool("elpips", "distance", str(SMALL), DOG)
    expect_refusal("a folder given as an image", done, ["is a folder, not an image file"])
    dot = work / "dot.png"
    import imageio.v3 as iio
    import numpy as np

    iio.imwrite(dot, np.zeros((1, 1, 3), np.uint8))
    done = tool("elpips", "distance", str(dot), str(dot), "--scales", "1")
    report("a 1x1 image with --scales 1", f"exit {done.returncode}: {first_line(done.stderr)}",
           done.returncode == 2 and "--scales" not in first_line(done.stderr))
    out = work / "mismatch"
    out.mkdir()
    shutil.copy(_checkpoint_of_another_run(work), out / "checkpoint.pt")  # 4 frames; the command asks for 5
    done = tool("geometry.tools.geodesic", CAT, DOG, *fast, "--frames", "5", "--out", str(out), "--resume")
    expect_refusal("--resume onto a checkpoint of another run", done,
                   ["belongs to a different run", "delete it to start afresh"])
    report("  ... in the tool's terms", "no 'pass another checkpoint path'", "checkpoint path" not in done.stderr)
    for delay in (0.2, 1.0, 2.5, 5.0):
        process = subprocess.Popen([sys.executable, "-m", "geometry.tools.geodesic", CAT, DOG, "--out",
                                    str(work / f"ctrl-c-{delay}")], stderr=subprocess.PIPE, text=True, cwd=REPO)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=600)
        clean = process.returncode == 130 and "Traceback" not in err
        if delay < 0.5 and not clean:  # before main(): Python starting, compiling the tool, its first light imports
            report(f"Ctrl-C {delay} s into start-up (informational)", f"exit {process.returncode}: before the tool's "
                   "main() was entered (interpreter start-up, compiling the tool, its stdlib imports)", True)
            continue
        report(f"Ctrl-C {delay} s into start-up", f"exit {process.returncode}: {first_line(err)}", clean)


def _checkpoint_of_another_run(work: Path) -> Path:
    from geometry.api import geodesic

    stop = threading.Event()
    stop.set()  # stops before the first step, leaving its checkpoint
    path = work / "another.pt"
    geodesic(CAT, DOG, frames=4, distance="l2", size=32, steps=3, checkpoint=path, cancel=stop)
    return path


def weights(work: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "elpips", "weights", "verify"], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "ELPIPS_WEIGHTS_DIR": str(work / "no-such-folder")})
    expect_refusal("weights verify with ELPIPS_WEIGHTS_DIR pointing nowhere", done, ["does not exist"], code=1)
    empty = {**os.environ, "XDG_CACHE_HOME": str(work / "empty-cache")}
    empty.pop("ELPIPS_WEIGHTS_DIR", None)
    done = subprocess.run([sys.executable, "-m", "elpips", "weights", "verify"], capture_output=True, text=True,
                          cwd=REPO, env=empty)
    expect_refusal("weights verify with every file missing", done, ["missing or corrupt"], code=1)
    from elpips import weights as w

    w.fetch(sorted(w.FILES), progress=False)
    listed = {s.name: s.location for s in w.verify()}
    matches = []
    for name in sorted(w.FILES):
        location = listed[name]
        sha = subprocess.run(["sha256sum", str(location)], capture_output=True, text=True).stdout.split()[0]
        matches.append(sha == w.FILES[name].sha256)
    report("sha256sum of every needed weight file against `elpips weights list`",
           f"{sum(matches)} of {len(matches)} match", all(matches))


def folders(work: Path) -> None:
    """Issue 25: a run refuses a folder over its inputs, one holding frames it did not write, and one a live run
    holds; every file is unchanged (md5 of each before and after)."""
    def files(folder: Path) -> dict:
        return {p: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}

    frames = work / "clip" / "frames"
    frames.mkdir(parents=True)
    for index, source in enumerate((CAT, DOG, CAT)):
        shutil.copy(source, frames / f"frame_{index:03d}.png")
    fast = ["--size", "32", "--steps", "2", "--distance", "l2"]
    before = files(work)
    done = tool("geometry.tools.geodesic", "--video", str(frames), "--input-fps", "4", "--insert", "1", *fast,
                "--out", str(frames.parent))
    expect_refusal("--video FRAMES --out PARENT_OF_FRAMES", done, ["holds the input"])
    report("  inputs after it", "unchanged" if files(work) == before else "CHANGED", files(work) == before)
    foreign = work / "foreign"
    (foreign / "frames").mkdir(parents=True)
    shutil.copy(CAT, foreign / "frames" / "frame_000.png")
    before = files(work)
    done = tool("geometry.tools.geodesic", CAT, DOG, "--frames", "3", *fast, "--out", str(foreign))
    expect_refusal("--out holding frames no run wrote", done, ["no run here wrote"])
    report("  its frames after it", "unchanged" if files(work) == before else "CHANGED", files(work) == before)
    job = work / "jobs.toml"
    job.write_text(f'[[jobs]]\nname = "g"\nkind = "geodesic"\ninputs = ["{CAT}", "{DOG}"]\noutput = "foreign"\n'
                   'settings = { distance = "l2", size = 32, steps = 2, frames = 3 }\n')
    before = files(foreign)
    done = tool("geometry.tools.batch", str(job), "--no-progress")
    said = next((line for line in done.stderr.splitlines() if "no run here wrote" in line), first_line(done.stderr))
    report("a batch job into a folder holding frames no run wrote", f"exit {done.returncode}: {said}",
           done.returncode == 1 and "no run here wrote" in said)
    report("  its frames after it", "unchanged" if files(foreign) == before else "CHANGED", files(foreign) == before)
    mine = work / "mine"
    mine.mkdir()
    shutil.copy(CAT, mine / "average.png")
    before = files(work)
    done = tool("geometry.tools.average", CAT, DOG, *fast, "--snapshots", "none", "--out", str(mine))
    expect_refusal("elpips-average into a folder holding an average.png no run wrote", done, ["no run here wrote"])
    report("  its average.png after it", "unchanged" if files(work) == before else "CHANGED", files(work) == before)
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from geometry.service.folder_claim import "
                               f"claim_folder\nclaim_folder({str(work / 'busy')!r}).acquire(); print('held', "
                               "flush=True); sys.stdin.read()"], cwd=REPO, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        holder.stdout.readline()
        done = tool("geometry.tools.geodesic", CAT, DOG, "--frames", "3", *fast, "--out", str(work / "busy"))
        expect_refusal("a second run on a live run's --out", done, ["in use by another run"])
    finally:
        holder.kill()
        holder.wait()
    done = tool("geometry.tools.geodesic", CAT, DOG, "--frames", "3", *fast, "--out", str(work / "busy"))
    report("the same run once the first died (stale lock)", f"exit {done.returncode}", done.returncode == 0)


def lines(work: Path) -> None:
    """Issue 25 items 1 and 5: a finished run is replaced only when asked; each misuse is one line naming the fix."""
    def files(folder: Path) -> dict:
        return {p: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}

    fast = ["--size", "32", "--steps", "2", "--distance", "l2", "--motion", "none", "--frames", "3", "--no-progress"]
    out = work / "finished"
    tool("geometry.tools.geodesic", CAT, DOG, *fast, "--out", str(out))
    before = files(work)
    done = tool("geometry.tools.geodesic", CAT, DOG, *fast, "--seed", "1", "--out", str(out))
    expect_refusal("a new run onto a finished run", done, ["holds a finished run", "--overwrite"])
    report("  the finished run after it", "unchanged" if files(work) == before else "CHANGED", files(work) == before)
    done = tool("geometry.tools.geodesic", CAT, DOG, *fast, "--seed", "1", "--out", str(out), "--overwrite")
    report("  the same with --overwrite", f"exit {done.returncode}", done.returncode == 0)
    done = tool("geometry.tools.geodesic", CAT, DOG, *fast[:-3], "--size", "24", "--frames", "3", "--out", str(out),
                "--resume")
    expect_refusal("--resume with a changed --size", done, ["--size was 32, now 24"])
    job = work / "jobs.toml"
    text = (f'[[jobs]]\nname = "j"\nkind = "average"\ninputs = ["{CAT}", "{DOG}"]\noutput = "job"\n'
            'settings = {{ distance = "l2", size = 32, steps = {steps} }}\n')
    job.write_text(text.format(steps=2))
    tool("geometry.tools.batch", str(job), "--no-progress")
    job.write_text(text.format(steps=3))
    before = files(work / "job")
    done = tool("geometry.tools.batch", str(job), "--no-progress")
    said = next((line for line in done.stderr.splitlines() if "overwrite" in line), first_line(done.stderr))
    report("a batch job changed after it finished", f"exit {done.returncode}: {said}",
           done.returncode == 1 and "finished run" in said and "overwrite = true" in said)
    report("  its outputs after it", "unchanged" if files(work / "job") == before else "CHANGED",
           files(work / "job") == before)

    disk = work / "tmpfs"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode:
        report("a full disk while writing frames (tmpfs)", "skipped: mounting a tmpfs needs root", True)
    else:
        script = ("import numpy as np, sys\nfrom geometry.service.video import write_png_frames\nwrite_png_frames("
                  "sys.argv[1], np.random.default_rng(0).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8))\n")
        done = subprocess.run([sys.executable, "-c", script, str(disk / "frames")], capture_output=True, text=True,
                              cwd=REPO)
        subprocess.run(["umount", str(disk)], capture_output=True)
        leaked = done.stderr.count("Exception ignored")
        report("a full disk while writing frames (64 KB tmpfs)", f"exit {done.returncode}: {first_line(done.stderr)}"
               f"; {leaked} 'Exception ignored' traceback(s)", not leaked and "No space left" in done.stderr)
    started = time.perf_counter()
    done = tool("geometry.tools.geodesic", CAT, str(work / "no-such.png"), "--out", str(work / "m"))
    baseline = time.perf_counter() - started
    expect_refusal("(baseline: a missing input)", done, ["no-such.png"], seconds=baseline)
    started = time.perf_counter()
    done = tool("geometry.tools.geodesic", CAT, DOG, "--size", "7", "--refine", "pixels", "--out", str(work / "s7"))
    expect_refusal("--size 7", done, ["use --size 9 or more"], seconds=time.perf_counter() - started)
    done = tool("geometry.tools.geodesic", CAT, DOG, "--frames", "10000", "--refine", "pixels", "--out",
                str(work / "f"))
    expect_refusal("--frames 10000", done, ["--frames", "or fewer"])
    said = said_before("expected about", "geometry.tools.geodesic", CAT, DOG, "--frames", "10000", "--size", "16",
                       "--refine", "pixels", "--max-memory", "100TB", "--no-progress", "--out", str(work / "f16"))
    report("--frames 10000 at 16 px whose memory is allowed", f"said: {said}",
           "use --frames" in said and "--refine none" in said)
    done = subprocess.run([sys.executable, "-m", "elpips", "distance", CAT, DOG], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "ELPIPS_WEIGHTS_DIR": CAT})
    expect_refusal("ELPIPS_WEIGHTS_DIR naming an image", done, ["is not a weights file"], code=done.returncode or 1)
    report("  it advises no deletion", "no 'delete'", "delete" not in done.stderr)
    script = ("import warnings, torch, elpips, geometry\n"
              "a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)\n"
              "q = dict(size=32, distance='l2', steps=2, motion='none')\n"
              "calls = {'load_metric(device=banana)': lambda: elpips.load_metric('vgg', device='banana'),\n"
              " 'geometry device=banana': lambda: geometry.pairwise_average(a, b, device='banana', **q),\n"
              " 'geometry device=cuda': lambda: geometry.pairwise_average(a, b, device='cuda', **q),\n"
              " 'a meta tensor': lambda: elpips.load_metric('vgg')(a.to('meta'), b),\n"
              " 'pairwise_average(batch of 2, b)': lambda: geometry.pairwise_average(torch.cat([a, b]), b, **q),\n"
              " 'an input that requires grad': lambda: geometry.pairwise_average(a.requires_grad_(), b, **q)}\n"
              "for name, call in calls.items():\n"
              "    with warnings.catch_warnings(record=True) as caught:\n"
              "        warnings.simplefilter('always')\n"
              "        try:\n"
              "            call(); said = 'ran'\n"
              "        except Exception as error:\n"
              "            said = f'{type(error).__name__}: {error}'\n"
              "    print(f'{name}\\t{said}\\t{len(caught)} warning(s)')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    for row in done.stdout.strip().splitlines():
        name, said, warned = row.split("\t")
        fine = ("InputError" in said or "ImageError" in said or said == "ran") and warned == "0 warning(s)"
        if name == "geometry device=cuda" and said == "ran":
            said = "CUDA is available here: not a fault"
        report(name, f"{said} ({warned})", fine)


def determinism(work: Path) -> None:
    """Three seeded 5-frame geodesics with the real network in parallel, then a resume from each step."""
    worker = (REPO / "tests" / "test_determinism.py").read_text()
    source = worker.split("_WORKER = textwrap.dedent('''")[1].split("''')")[0]
    import textwrap

    script = work / "worker.py"
    script.write_text(textwrap.dedent(source))
    folders = [work / f"det{k}" for k in range(3)]
    for folder in folders:
        folder.mkdir()
    runs = [subprocess.Popen([sys.executable, str(script), "run", CAT, DOG, str(f)], cwd=REPO,
                             stderr=subprocess.PIPE, text=True) for f in folders]
    for process in runs:
        process.communicate(timeout=1800)
    import torch

    images = [torch.load(f / "images.pt") for f in folders]
    digests = {hashlib.sha256(x.numpy().tobytes()).hexdigest()[:12] for x in images}
    report("3 seeded runs in parallel (real VGG, 3 frames at 32 px, 2 stages, 8 draws a step, 4 threads each)",
           f"{len(digests)} distinct result(s)", len(digests) == 1)
    resume = subprocess.run([sys.executable, str(script), "resume", CAT, DOG, str(folders[0])], cwd=REPO,
                            capture_output=True, text=True, timeout=1800)
    resumed = torch.load(folders[0] / "resumed.pt") if resume.returncode == 0 else {}
    same = [name for name, x in resumed.items() if torch.equal(x, images[0])]
    report("resumed in a fresh process from the checkpoint after every step (both stages)",
           f"{len(same)} of {len(resumed)} identical to the uninterrupted run", resumed and len(same) == len(resumed))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    groups = {group.__name__: group for group in (outputs, memory, inputs, messages, weights, folders, lines,
                                                             determinism)}
    parser.add_argument("--quick", action="store_true", help="skip the real-network determinism probes")
    parser.add_argument("--only", nargs="+", choices=sorted(groups), help="run these groups of probes only")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.path.insert(0, str(REPO))
    chosen = [groups[name] for name in args.only] if args.only else [
        group for name, group in groups.items() if not (args.quick and name == "determinism")]
    with tempfile.TemporaryDirectory(prefix="elpips-probe-") as folder:
        work = Path(folder)
        for group in chosen:
            print(f"# {group.__name__}", flush=True)
            area = work / group.__name__
            area.mkdir()
            group(area)
    print(f"{unexpected} unexpected result(s)")
    return unexpected


if __name__ == "__main__":
    sys.exit(main())
