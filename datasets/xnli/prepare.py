"""Fetch XNLI 1.0 and unpack its dev and test files into data/, refusing any archive member that would land
outside it. Needs internet (or XNLI_ZIP=/path/to/XNLI-1.0.zip); does nothing when data/ already holds them."""

import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile

URL = os.environ.get("XNLI_URL", "https://dl.fbaipublicfiles.com/XNLI/XNLI-1.0.zip")
WANTED = ("xnli.dev.tsv", "xnli.test.tsv")
OUT = "data"


def fail(message):
    print(f"xnli prepare: {message}", file=sys.stderr)
    sys.exit(1)


def fetch(tmp):
    if os.environ.get("XNLI_ZIP"):
        return os.environ["XNLI_ZIP"]
    path = os.path.join(tmp, "XNLI-1.0.zip")
    print(f"downloading {URL}", file=sys.stderr)
    try:
        with urllib.request.urlopen(URL, timeout=60) as r, open(path, "wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as e:
        fail(f"cannot download {URL} ({e}); run where internet is allowed, or set XNLI_ZIP to a local copy")
    return path


def unpack(archive):
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as e:
        fail(f"{archive} is not a readable zip ({e})")
    with zf:
        found = {}
        for info in zf.infolist():
            name = info.filename
            if name.startswith("/") or ".." in name.split("/") or "\\" in name:
                fail(f"{archive}: member {name!r} would be written outside {OUT}/; refusing the archive")
            if os.path.basename(name) in WANTED and not info.is_dir():
                found[os.path.basename(name)] = info
        missing = [w for w in WANTED if w not in found]
        if missing:
            fail(f"{archive} lacks {', '.join(missing)}; is it XNLI-1.0.zip?")
        os.makedirs(OUT, exist_ok=True)
        for base, info in found.items():
            with zf.open(info) as src, open(os.path.join(OUT, base + ".part"), "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(os.path.join(OUT, base + ".part"), os.path.join(OUT, base))


if all(os.path.exists(os.path.join(OUT, w)) for w in WANTED):
    print(f"{OUT}/ already holds {', '.join(WANTED)}", file=sys.stderr)
else:
    with tempfile.TemporaryDirectory() as tmp:
        unpack(fetch(tmp))
    print(f"unpacked {', '.join(WANTED)} into {OUT}/", file=sys.stderr)
