"""Running the build's binaries as another user, for the read-permission tests."""
import os
import shutil
import subprocess
import tempfile


def nobody_runnable(binary):
    """A copy of binary (and of the libstreamreg it loads) that user nobody can
    run: the build tree may sit where nobody cannot look, e.g. a clone under
    /root (mode 0700).  Returns (directory for LD_LIBRARY_PATH, copied binary);
    the caller removes the directory."""
    d = tempfile.mkdtemp(prefix="sr-nobody-")
    os.chmod(d, 0o755)
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "libstreamreg" in line and "=>" in line:
            soname = line.split("=>")[0].strip()
            path = line.split("=>")[1].split("(")[0].strip()
            shutil.copy(path, os.path.join(d, soname))
            os.chmod(os.path.join(d, soname), 0o755)
    copy = os.path.join(d, os.path.basename(binary))
    shutil.copy(binary, copy)
    os.chmod(copy, 0o755)
    return d, copy
